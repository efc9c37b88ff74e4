"""One-click claims (一键理赔): a settled case's claim, the insurer's desk, authorisations, payment deadlines, 定修直赔."""
