"""provision.dns"""
