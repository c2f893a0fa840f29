"""Pages and static assets shared by both applications."""
