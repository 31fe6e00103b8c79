"""tkitrack.dashboards"""
