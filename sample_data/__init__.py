"""tkitrack.sample_data"""
