"""Chromium and the contract with WhatsApp Web's page: the driver, which Chromium, the page tables and scripts."""
