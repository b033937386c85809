"""One router per area of the portal: auth, agents, marketing (compliance lives in its own module)."""
