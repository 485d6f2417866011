#!/usr/bin/env bash
# report.yml against three partitions in two tenants (frozen, so nothing moves between the reads): the text table
# has per-tenant totals; with linuxvps_report_html it writes one self-contained HTML file on the controller (check
# mode writes none, a second run changes nothing); headless Chromium renders it and what it shows (names, states,
# amounts, bar widths and peak marks) is what partition_info says; nothing in it fetches anything; a screenshot is
# drawn. Controls: a doctored copy fails the checker, an external reference fails the self-containment check.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
inv=(-i "$here/files/inventory.yml")
export ANSIBLE_ROLES_PATH="$here/.."
state=/var/tmp/linuxvps-test
work=$(mktemp -d)
html=$work/report.html
log=$work/log
names=(pt-rep-a1 pt-rep-a2 pt-rep-b1)

cleanup() {
  ansible-playbook "${inv[@]}" "$here/files/cleanup.yml" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

recap() { grep -E '^localhost +:' "$log" || true; }
play() { ansible-playbook "${inv[@]}" "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }; recap; }
report() { play linuxvps.partitions.report -e linuxvps_state_dir=$state -e "linuxvps_report_html=$html" "$@"; }
no_change() { if grep -E 'changed=[1-9]' "$log"; then echo "FAIL: $1 changed something"; exit 1; fi; }
browser() { timeout 60 chromium-headless-shell --no-sandbox --disable-gpu --headless "$@" 2>/dev/null; }
# Nothing in the file may make a browser fetch or run anything.
self_contained() { ! grep -Eiq 'http|<script|@font-face|url\(|<link|<img|<iframe|src=|href=' "$1"; }

command -v chromium-headless-shell >/dev/null || { echo "FAIL: chromium-headless-shell is not installed (make deps installs it)"; exit 1; }

echo "== three partitions in two tenants, frozen"
play "$here/files/setup.yml" -e running_state=frozen

echo "== report.yml in check mode writes no HTML"
report --check
[ ! -e "$html" ] || { echo "FAIL: check mode wrote $html"; exit 1; }
echo "== report.yml writes it; again and in check mode: nothing changes"
report
[ -s "$html" ] || { echo "FAIL: no HTML report"; exit 1; }
cp "$log" "$work/text.log"
report --check
no_change "report.yml --check"
report
no_change "the second report.yml"

echo "== the text table has the tenants' totals"
for tenant in rt-a rt-b; do
  grep -Eq "\"$tenant +[0-9]+ +[0-9]+ +[0-9.]+/" "$work/text.log" || { cat "$work/text.log"; echo "FAIL: no totals line for $tenant"; exit 1; }
done
grep -Eq '"rt-a +2 +1 ' "$work/text.log" || { echo "FAIL: rt-a's partition and running counts"; exit 1; }

echo "== self-contained: no URL, script, font file or external reference"
self_contained "$html" || { grep -Eio '.{0,40}(http|<script|@font-face|url\(|<link|<img|<iframe|src=|href=).{0,40}' "$html"; echo "FAIL: not self-contained"; exit 1; }
grep -q '<svg' "$html" || { echo "FAIL: no inline SVG"; exit 1; }
sed 's#</style>#p { background: url(https://example.invalid/x.png); }</style>#' "$html" > "$work/external.html"
if self_contained "$work/external.html"; then echo "FAIL: control: an external reference passed"; exit 1; fi

echo "== what Chromium shows is what partition_info says"
ansible -m linuxvps.partitions.partition_info -a "state_dir=$state" "${inv[@]}" localhost | sed '1s/^[^{]*//' > "$work/info.json"
browser --dump-dom "file://$html" > "$work/dom.html"
grep -q 'data-partition="pt-rep-a1"' "$work/dom.html" || { echo "FAIL: Chromium rendered no report"; head -c 2000 "$work/dom.html"; exit 1; }
python3 "$here/files/check_report.py" "$work/dom.html" "$work/info.json" localhost "${names[@]}"
browser --window-size=1200,1600 --screenshot="$work/shot.png" "file://$html" >/dev/null
if [ "$(head -c 8 "$work/shot.png" | od -An -tx1 | tr -d ' \n')" != 89504e470d0a1a0a ] || [ "$(stat -c %s "$work/shot.png")" -le 10000 ]; then
  echo "FAIL: no screenshot"; exit 1
fi

echo "== controls: a doctored copy fails the checker"
# the first bar ten percent wider than the value says
sed '0,/class="held" x="0" y="0" width="[0-9.]*"/s//class="held" x="0" y="0" width="200.00"/' "$html" > "$work/bar.html"
# one partition's memory limit shown one MiB higher
python3 - "$html" "$work/limit.html" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
start = text.index('data-partition="pt-rep-b1"')
match = re.compile(r'<td class="limit">([0-9.]+) MiB</td>').search(text, start)
doctored = text[:match.start(1)] + "%.1f" % (float(match.group(1)) + 1) + text[match.end(1):]
open(sys.argv[2], "w").write(doctored)
PY
for copy in bar limit; do
  ! cmp -s "$html" "$work/$copy.html" || { echo "FAIL: control $copy changed nothing"; exit 1; }
  browser --dump-dom "file://$work/$copy.html" > "$work/dom-$copy.html"
  if python3 "$here/files/check_report.py" "$work/dom-$copy.html" "$work/info.json" localhost "${names[@]}" > "$work/out"; then
    echo "FAIL: control: the checker passed the doctored $copy copy"; exit 1
  fi
  grep FAIL "$work/out"
done

echo "== all passed"
