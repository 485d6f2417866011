"""Copy an uncompressed backup archive with its header's keys replaced: `python3 - IN OUT KEY=JSON...` (KEY a.b for nested)."""
import json
import sys
import tarfile

source, target = sys.argv[1:3]
with open(source, "rb") as handle:
    data = handle.read()
info = tarfile.TarInfo.frombuf(data[:512], "utf-8", "strict")
assert info.name == "linuxvps-backup.json", info.name
end = 512 + info.size + (-info.size % 512)
header = json.loads(data[512:512 + info.size])
for change in sys.argv[3:]:
    key, value = change.split("=", 1)
    where = header
    parts = key.split(".")
    for part in parts[:-1]:
        where = where[part]
    where[parts[-1]] = json.loads(value)
body = json.dumps(header).encode()
new = tarfile.TarInfo(info.name)
new.size, new.mode = len(body), 0o644
with open(target, "wb") as handle:
    handle.write(new.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict") + body + b"\0" * (-len(body) % 512) + data[end:])
