"""Reading images, masks and benchmark files, and importing them into the database."""
