//! Frappe connector against the Frappe simulator (filled in below).
