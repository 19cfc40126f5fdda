"""Microsoft Graph as the proxy uses it: the HTTP client (``$batch``, retries, errors), the
app's credential, and the operations the staff services need.
"""
