"""tkitrack.schemas"""
