"""The OpenAPI 3.1 document of the JSON API (docs/api.md), served at /api/v1/openapi.json.

A test walks the application's routes and this document and fails when they drift apart.
"""

from __future__ import annotations

from typing import Any

ERROR_CODES = [
    "unauthenticated", "csrf_failed", "reauthentication_required", "insufficient_permissions",
    "not_found", "forbidden", "protected_user", "invalid_request", "invalid_phone_number",
    "phone_number_not_allowed", "password_rejected",
    "rate_limited", "conflict", "upstream_unavailable", "internal_error",
]
PHONE_TYPES = ["mobile", "alternateMobile", "office"]
ACTIONS = ["reset_password", "manage_phone", "issue_temporary_access_pass",
           "manage_sms_sign_in"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    names = {400: "Invalid request", 401: "Not signed in", 403: "Refused",
             404: "Not found (or not yours to see)", 409: "Conflicts with the user's phones",
             429: "Rate limited", 500: "A bug in the proxy", 502: "Graph failed",
             503: "Graph unavailable", 504: "Graph timed out"}
    # Every operation may meet a bug (500 internal_error, with the request id to report).
    return {str(s): {"$ref": f"#/components/responses/E{s}"}
            for s in (*statuses, 500) if s in names}


_LOC = {"name": "loc", "in": "path", "required": True, "description": "Location key",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"}}
_USER = {"name": "userId", "in": "path", "required": True, "description": "User object id",
         "schema": {"type": "string", "format": "uuid"}}
_PTYPE = {"name": "phoneType", "in": "path", "required": True,
          "schema": {"type": "string", "enum": PHONE_TYPES}}
_CSRF = {"name": "X-CSRF-Token", "in": "header", "required": False,
         "description": "Required with a session cookie (csrfToken from /me); not with a "
                        "bearer token.", "schema": {"type": "string"}}
_COMMON_READ = _errors(401, 403, 404, 502, 503, 504)
_COMMON_WRITE = _errors(400, 401, 403, 404, 409, 429, 502, 503, 504)


def build_openapi(server_url: str = "/") -> dict[str, Any]:
    location = {
        "type": "object", "required": ["id", "name", "actions"], "additionalProperties": False,
        "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                       "actions": {"type": "array",
                                   "items": {"type": "string", "enum": ACTIONS}}},
    }
    phone = {
        "type": "object", "required": ["phoneType", "phoneNumber", "smsSignInState"],
        "additionalProperties": False,
        "properties": {"phoneType": {"type": "string", "enum": PHONE_TYPES},
                       "phoneNumber": {"type": "string"},
                       "smsSignInState": {"type": ["string", "null"]}},
    }
    staff = {
        "type": "object", "required": ["id", "displayName", "userPrincipalName", "jobTitle"],
        "additionalProperties": False,
        "properties": {"id": {"type": "string"}, "displayName": {"type": "string"},
                       "userPrincipalName": {"type": "string"},
                       "jobTitle": {"type": ["string", "null"]}},
    }
    profile = {
        "type": "object",
        "required": ["id", "displayName", "userPrincipalName", "mail", "jobTitle", "actions",
                     "phoneMethods"],
        "additionalProperties": False,
        "properties": {"id": {"type": "string"}, "displayName": {"type": "string"},
                       "userPrincipalName": {"type": "string"},
                       "mail": {"type": ["string", "null"]},
                       "jobTitle": {"type": ["string", "null"]},
                       "actions": {"type": "array",
                                   "items": {"type": "string", "enum": ACTIONS}},
                       "phoneMethods": {"type": "array", "items": _ref("PhoneMethod")},
                       "temporaryAccessPass": _ref("AccessPass")},
    }
    access_pass = {
        "type": ["object", "null"], "additionalProperties": False,
        "description": "Whether the person has a Temporary Access Pass and until when (null: "
                       "none); never the pass itself",
        "required": ["createdDateTime", "startDateTime", "lifetimeInMinutes", "isUsableOnce",
                     "isUsable", "methodUsabilityReason"],
        "properties": {"createdDateTime": {"type": ["string", "null"]},
                       "startDateTime": {"type": ["string", "null"]},
                       "lifetimeInMinutes": {"type": ["integer", "null"]},
                       "isUsableOnce": {"type": ["boolean", "null"]},
                       "isUsable": {"type": ["boolean", "null"]},
                       "methodUsabilityReason": {"type": ["string", "null"]}},
    }
    error = {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "requestId"],
            "additionalProperties": False,
            "properties": {"code": {"type": "string", "enum": ERROR_CODES},
                           "message": {"type": "string"}, "requestId": {"type": "string"},
                           "reauthUrl": {"type": "string", "description":
                                         "reauthentication_required: sign in again here, "
                                         "then retry"}},
        }},
    }
    reset_entry = {
        "type": "object", "additionalProperties": False,
        "required": ["id", "displayName", "userPrincipalName", "temporaryPassword", "error"],
        "description": "One person: a temporary password (shown once), or why not. The names "
                       "are null when the person may not be named (not_found) or Graph could "
                       "not say.",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "displayName": {"type": ["string", "null"]},
            "userPrincipalName": {"type": ["string", "null"]},
            "temporaryPassword": {"type": ["string", "null"]},
            "confirmed": {"type": "boolean", "description": "false: accepted, not confirmed "
                          "(manager mode), as for a single reset"},
            "error": {"type": ["object", "null"], "additionalProperties": False,
                      "required": ["code", "message"],
                      "properties": {"code": {"type": "string", "enum": ERROR_CODES},
                                     "message": {"type": "string"}}}},
    }
    me = {
        "type": "object", "required": ["id", "displayName", "userPrincipalName", "locations"],
        "additionalProperties": False,
        "properties": {"id": {"type": "string"}, "displayName": {"type": "string"},
                       "userPrincipalName": {"type": "string"},
                       "csrfToken": {"type": "string", "description": "Session callers only"},
                       "locations": {"type": "array", "items": _ref("Location")}},
    }
    phone_number = {"type": "string", "minLength": 1, "maxLength": 64}
    region = {"type": "string", "pattern": "^[A-Za-z]{2}$",
              "description": "Region for numbers written without +country"}
    responses = {
        f"E{status}": _json(_ref("Error"), text) | (
            {"headers": {"Retry-After": {"schema": {"type": "integer"}}}} if status == 429
            else {})
        for status, text in [(400, "Invalid request"), (401, "Not signed in"),
                             (403, "Refused"), (404, "Not found"), (409, "Conflict"),
                             (429, "Rate limited"), (500, "A bug in the proxy"),
                             (502, "Graph failed"),
                             (503, "Graph unavailable"), (504, "Graph timed out")]
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "mystaff-proxy API", "version": "1",
                 "description": "Reset passwords and manage phone numbers of the staff of "
                                "your own locations."},
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-mystaff"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
            "schemas": {"Location": location, "PhoneMethod": phone, "Staff": staff,
                        "Profile": profile, "Error": error, "Me": me,
                        "PasswordResetEntry": reset_entry,
                        "AccessPass": access_pass},
            "responses": responses,
        },
        "security": [{"session": []}, {"bearer": []}],
        "paths": {
            "/api/v1/me": {"get": {
                "operationId": "getMe", "summary": "The signed-in user and their locations",
                "responses": {"200": _json(_ref("Me"), "The caller")} | _errors(401, 502, 503,
                                                                                 504)}},
            "/api/v1/locations": {"get": {
                "operationId": "listLocations", "summary": "Locations the caller manages",
                "responses": {"200": _json({"type": "object", "required": ["value"],
                                            "additionalProperties": False,
                                            "properties": {"value": {
                                                "type": "array",
                                                "items": _ref("Location")}}},
                                           "Locations")} | _errors(401, 403, 502, 503, 504)}},
            "/api/v1/locations/{loc}/staff": {"get": {
                "operationId": "listStaff", "summary": "User members of a location",
                "parameters": [
                    _LOC,
                    {"name": "search", "in": "query", "required": False,
                     "schema": {"type": "string", "maxLength": 64}},
                    {"name": "top", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                    {"name": "cursor", "in": "query", "required": False,
                     "schema": {"type": "string", "maxLength": 4096,
                                "pattern": "^[A-Za-z0-9_-]*$"}},  # base64url, as issued
                ],
                "responses": {"200": _json({
                    "type": "object", "required": ["value", "nextCursor"],
                    "additionalProperties": False,
                    "properties": {"value": {"type": "array", "items": _ref("Staff")},
                                   "nextCursor": {"type": ["string", "null"]}}},
                    "A page of staff")} | _errors(400, 401, 403, 404, 502, 503, 504)}},
            "/api/v1/locations/{loc}/password-resets": {"post": {
                "operationId": "resetPasswords",
                "summary": "Reset the passwords of up to 50 people of a location",
                "description": "Each person is checked, rate-limited and audited as a single "
                               "reset; one entry each, in the order asked. The request as a "
                               "whole is refused only for the location (404, 403) or a body "
                               "that is not 1 to 50 distinct user ids (400).",
                "parameters": [_LOC, _CSRF],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["userIds"],
                               "additionalProperties": False,
                               "properties": {"userIds": {
                                   "type": "array", "minItems": 1, "maxItems": 50,
                                   "uniqueItems": True,
                                   "items": {"type": "string", "format": "uuid"}}}}}}},
                "responses": {"200": _json({
                    "type": "object", "required": ["value"], "additionalProperties": False,
                    "properties": {"value": {"type": "array",
                                             "items": _ref("PasswordResetEntry")}}},
                    "One entry per person, passwords shown once")}
                | _errors(400, 401, 403, 404, 502, 503, 504)}},
            "/api/v1/locations/{loc}/staff/{userId}": {"get": {
                "operationId": "getStaff", "summary": "A staff member's profile",
                "parameters": [_LOC, _USER],
                "responses": {"200": _json(_ref("Profile"), "The profile")} | _COMMON_READ}},
            "/api/v1/locations/{loc}/staff/{userId}/password": {"post": {
                "operationId": "resetPassword", "summary": "Reset the password",
                "parameters": [_LOC, _USER, _CSRF],
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": {"type": "object", "additionalProperties": False,
                               "properties": {"password": {"type": "string",
                                                           "maxLength": 256}}}}}},
                "responses": {"200": _json({
                    "type": "object",
                    "required": ["temporaryPassword", "forceChangePasswordNextSignIn"],
                    "additionalProperties": False,
                    "properties": {"temporaryPassword": {"type": "string"},
                                   "forceChangePasswordNextSignIn": {"const": True},
                                   "confirmed": {"type": "boolean", "description":
                                                 "false: Entra accepted the reset but the "
                                                 "manager's role may not confirm it (manager "
                                                 "mode); the password is set all the same "
                                                 "unless Entra fails it later"}}},
                    "The temporary password, shown once")} | _COMMON_WRITE}},
            "/api/v1/locations/{loc}/staff/{userId}/phone-methods": {"post": {
                "operationId": "addPhone", "summary": "Add a phone number",
                "parameters": [_LOC, _USER, _CSRF],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["phoneType", "phoneNumber"],
                               "additionalProperties": False,
                               "properties": {"phoneType": {"type": "string",
                                                            "enum": PHONE_TYPES},
                                              "phoneNumber": phone_number,
                                              "region": region}}}}},
                "responses": {"201": _json(_ref("PhoneMethod"), "The stored phone")}
                | _COMMON_WRITE}},
            "/api/v1/locations/{loc}/staff/{userId}/phone-methods/{phoneType}": {
                "patch": {
                    "operationId": "changePhone", "summary": "Change a phone number",
                    "parameters": [_LOC, _USER, _PTYPE, _CSRF],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"type": "object", "required": ["phoneNumber"],
                                   "additionalProperties": False,
                                   "properties": {"phoneNumber": phone_number,
                                                  "region": region}}}}},
                    "responses": {"200": _json(_ref("PhoneMethod"), "The stored phone")}
                    | _COMMON_WRITE},
                "delete": {
                    "operationId": "removePhone", "summary": "Remove a phone number",
                    "parameters": [_LOC, _USER, _PTYPE, _CSRF],
                    "responses": {"204": {"description": "Removed"}} | _COMMON_WRITE},
            },
            "/api/v1/locations/{loc}/staff/{userId}/temporary-access-pass": {
                "post": {
                    "operationId": "issueTemporaryAccessPass",
                    "summary": "Issue a Temporary Access Pass (replaces one that exists)",
                    "parameters": [_LOC, _USER, _CSRF],
                    "requestBody": {"required": False, "content": {"application/json": {
                        "schema": {"type": "object", "additionalProperties": False,
                                   "properties": {"lifetimeMinutes": {"type": "integer",
                                                                      "minimum": 1},
                                                  "isUsableOnce": {"type": "boolean"}}}}}},
                    "responses": {"201": _json({
                        "type": "object", "additionalProperties": False,
                        "required": ["temporaryAccessPass", "startDateTime",
                                     "lifetimeInMinutes", "isUsableOnce"],
                        "properties": {"temporaryAccessPass": {"type": "string"},
                                       "startDateTime": {"type": ["string", "null"]},
                                       "lifetimeInMinutes": {"type": "integer"},
                                       "isUsableOnce": {"type": "boolean"}}},
                        "The pass, shown once")} | _COMMON_WRITE},
                "delete": {
                    "operationId": "removeTemporaryAccessPass",
                    "summary": "Remove the person's Temporary Access Pass",
                    "parameters": [_LOC, _USER, _CSRF],
                    "responses": {"204": {"description": "Removed"}} | _COMMON_WRITE},
            },
            "/api/v1/locations/{loc}/staff/{userId}/phone-methods/mobile/sms-sign-in": {
                "post": {
                    "operationId": "enableSmsSignIn",
                    "summary": "Let the person sign in with a code sent to their mobile",
                    "parameters": [_LOC, _USER, _CSRF],
                    "responses": {"200": _json(_ref("PhoneMethod"), "The mobile, its new "
                                               "smsSignInState")} | _COMMON_WRITE},
                "delete": {
                    "operationId": "disableSmsSignIn",
                    "summary": "Stop sign-in with a code sent to the mobile",
                    "parameters": [_LOC, _USER, _CSRF],
                    "responses": {"200": _json(_ref("PhoneMethod"), "The mobile, its new "
                                               "smsSignInState")} | _COMMON_WRITE},
            },
            "/api/v1/openapi.json": {"get": {
                "operationId": "getOpenApi", "summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1 document",
                                      "content": {"application/json": {}}}}}},
        },
    }
