"""Rating: premiums from the published rate tables; referral and refusal rules."""
