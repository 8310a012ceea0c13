#!/bin/bash
# Exits without writing /logs/verifier/reward.txt or reward.json.
test -f /app/done
