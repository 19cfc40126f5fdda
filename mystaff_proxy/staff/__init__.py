"""What a manager can do for their staff: the shared check before every change, then one
module per capability. Handlers call these; these call the policy, Graph and the audit log.
"""
