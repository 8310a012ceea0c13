#!/bin/bash
for level in INFO WARN ERROR; do
  echo "$level $(grep -c " $level " "$LOG_FILE")"
done > /app/counts.txt
