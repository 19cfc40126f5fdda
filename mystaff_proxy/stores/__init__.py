"""State shared between requests (and between instances): rate limits, sign-in flows,
revocations. In memory for one instance, in Redis for several.
"""
