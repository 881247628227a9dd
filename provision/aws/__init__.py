"""provision.aws"""
