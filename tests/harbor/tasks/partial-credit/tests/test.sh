#!/bin/bash
# Two named rewards: correctness (all cases right) and speed (the large case in time).
correctness=0
speed=0
if [ "$(bash /app/sum.sh 1 2 3)" = "6" ] && [ "$(bash /app/sum.sh)" = "0" ] \
   && [ "$(bash /app/sum.sh -4 4 10)" = "10" ]; then
  correctness=1
fi
if timeout 1 bash /app/sum.sh $(seq 1 2000) | grep -qx 2001000; then
  speed=1
fi
printf '{"correctness": %s, "speed": %s}\n' "$correctness" "$speed" > /logs/verifier/reward.json
