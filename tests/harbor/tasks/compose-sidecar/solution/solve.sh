#!/bin/bash
python3 -c "import urllib.request; open('/app/secret.txt','wb').write(urllib.request.urlopen('http://api:8000/secret').read())"
