"""Statistical disclosure control: the cube of every cell, primary and secondary suppression, LP audit.

Raw values enter here and leave only as a protected cube (published values and statuses).
"""
