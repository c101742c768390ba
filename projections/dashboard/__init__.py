"""The operator's control panel for projections, subscribers and process managers, served inside the admin."""
