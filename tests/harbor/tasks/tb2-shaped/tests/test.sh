#!/bin/bash
expected=$'INFO 3\nWARN 1\nERROR 1'
if [ "$(cat /app/counts.txt 2>/dev/null)" = "$expected" ]; then
  echo 1 > /logs/verifier/reward.txt
else
  echo 0 > /logs/verifier/reward.txt
fi
