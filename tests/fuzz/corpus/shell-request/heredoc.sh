cat <<'EOF' > a.py
print('hi\n')
EOF
python3 a.py