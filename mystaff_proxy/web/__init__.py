"""The HTTP face: the app factory, middleware, the page, the JSON API, sign-in and ops
routes, rendering, templates and static files. Handlers stay thin: they parse, call a staff
service and render its answer.
"""
