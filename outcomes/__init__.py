"""tkitrack.outcomes"""
