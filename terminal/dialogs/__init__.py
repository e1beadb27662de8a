"""Modal screens that return a value: purchase amount, redeem confirmation, void, help, receipt."""
