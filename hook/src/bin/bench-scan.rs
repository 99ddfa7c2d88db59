//! Benchmark of image opening: `open()` of a ~1 GiB, 8-gzip-layer OCI image plus a few
//! resolved reads (what `scan` does), against `gzip -dc` of the same 8 layers one after
//! another; the peak RSS of a child process doing the open; and `open()` of a `bundle:`.
//!
//! The image is generated once (deterministic pseudo-random, compressible data, a realistic
//! file-size mix) into `/var/tmp/entrytrace-bench` and reused. Run it with
//! `cargo run --release -p entrytrace --bin bench-scan` (add `--no-default-features` to
//! measure flate2's miniz_oxide backend instead of zlib-rs). It prints figures; it asserts
//! nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use entrytrace::image::{open, OpenOptions};
use sha2::{Digest, Sha256};

const LAYERS: usize = 8;
const LAYER_BYTES: u64 = 128 << 20;
/// Files read after opening, as `scan` would: (path, expected to exist).
const READS: [&str; 5] = [
    "/usr/local/bin/docker-entrypoint.sh",
    "/usr/bin/app",
    "/layer0/last",
    "/layer3/last",
    "/etc/os-release",
];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp/entrytrace-bench".into()),
    );
    if args.get(1).map(String::as_str) == Some("--child") {
        let t = scan(&dir)?;
        println!("{} {}", t.as_secs_f64(), vm_hwm_kib()?);
        return Ok(());
    }
    let layout = dir.join("layout");
    if !layout.join("index.json").exists() {
        eprintln!("generating {} (once) ...", layout.display());
        generate(&layout)?;
    }
    let backend = if cfg!(feature = "zlib-rs") {
        "zlib-rs"
    } else {
        "miniz_oxide"
    };
    let gzip = median(3, || gzip_all(&layout))?;
    let ours = median(3, || scan(&dir))?;
    let (child_time, rss_kib) = child_rss(&dir)?;
    println!(
        "backend: flate2 {backend}; threads: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "gzip -dc, 8 layers sequentially: {:.3} s (median of 3)",
        gzip.as_secs_f64()
    );
    println!(
        "open() + {} reads:               {:.3} s (median of 3) = {:.2}x gzip",
        READS.len(),
        ours.as_secs_f64(),
        ours.as_secs_f64() / gzip.as_secs_f64()
    );
    println!(
        "child process open: {child_time:.3} s, peak RSS {:.1} MiB (its VmHWM)",
        rss_kib as f64 / 1024.0
    );
    println!(
        "this process after 3 in-process scans: peak RSS {:.1} MiB",
        vm_hwm_kib()? as f64 / 1024.0
    );
    let bundle = make_bundle(&dir)?;
    let mut times = Vec::new();
    for _ in 0..201 {
        let t = Instant::now();
        let img = open(
            &format!("bundle:{}", bundle.display()),
            &OpenOptions::default(),
        )?;
        times.push(t.elapsed());
        drop(img);
    }
    times.sort();
    println!(
        "open(bundle:): median {:.3} ms, p90 {:.3} ms (201 runs)",
        ms(times[100]),
        ms(times[180])
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(n: usize, mut f: impl FnMut() -> anyhow::Result<Duration>) -> anyhow::Result<Duration> {
    let mut v = (0..n).map(|_| f()).collect::<anyhow::Result<Vec<_>>>()?;
    v.sort();
    Ok(v[n / 2])
}

/// What `scan` does to an image: open it, resolve and read a handful of files.
fn scan(dir: &Path) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let img = open(
        &format!("oci:{}:bench", dir.join("layout").display()),
        &OpenOptions::default(),
    )?;
    for p in READS {
        let body = img.vfs.read(p, 4 << 20).with_context(|| p.to_string())?;
        anyhow::ensure!(!body.is_empty(), "{p} is empty");
    }
    anyhow::ensure!(img.diagnostics.is_empty(), "{:?}", img.diagnostics);
    Ok(t.elapsed())
}

fn gzip_all(layout: &Path) -> anyhow::Result<Duration> {
    let mut blobs: Vec<PathBuf> = std::fs::read_to_string(layout.join("layers"))?
        .lines()
        .map(|l| layout.join("blobs/sha256").join(l))
        .collect();
    blobs.truncate(LAYERS);
    let t = Instant::now();
    for b in &blobs {
        let st = Command::new("gzip")
            .arg("-dc")
            .arg(b)
            .stdout(std::process::Stdio::null())
            .status()?;
        anyhow::ensure!(st.success(), "gzip -dc {} failed", b.display());
    }
    Ok(t.elapsed())
}

fn child_rss(dir: &Path) -> anyhow::Result<(f64, i64)> {
    let out = Command::new(std::env::current_exe()?)
        .arg("--child")
        .env("BENCH_DIR", dir)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let secs: f64 = words.next().context("child time")?.parse()?;
    let hwm: i64 = words.next().context("child VmHWM")?.parse()?;
    Ok((secs, hwm))
}

/// This process's peak RSS (`VmHWM`, KiB). Unlike `ru_maxrss`, it is per address space, so it
/// does not inherit the parent's peak across fork/exec.
fn vm_hwm_kib() -> anyhow::Result<i64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmHWM value")?
        .parse()?)
}

/// A tiny xorshift generator: deterministic data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Compressible text-like bytes (gzip ratio about 3:1).
fn fill(rng: &mut Rng, n: usize) -> Vec<u8> {
    const WORDS: [&[u8]; 16] = [
        b"lorem ",
        b"ipsum ",
        b"dolor ",
        b"sit ",
        b"amet ",
        b"consectetur ",
        b"adipiscing ",
        b"elit ",
        b"sed ",
        b"do ",
        b"eiusmod ",
        b"tempor ",
        b"incididunt ",
        b"ut ",
        b"labore ",
        b"magna\n",
    ];
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        let r = rng.next();
        out.extend_from_slice(WORDS[(r & 15) as usize]);
        if r & 0x300 == 0 {
            out.extend_from_slice(&(r >> 20).to_le_bytes()[..3]);
        }
    }
    out.truncate(n);
    out
}

fn generate(layout: &Path) -> anyhow::Result<()> {
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    let mut names = String::new();
    for layer in 0..LAYERS {
        let tmp = blobs.join("tmp");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&tmp)?,
            flate2::Compression::new(6),
        );
        let mut b = tar::Builder::new(HashWriter {
            inner: gz,
            hash: Sha256::new(),
        });
        let mut written = 0u64;
        let mut n = 0;
        let add =
            |b: &mut tar::Builder<_>, path: &str, body: &[u8], mode: u32| -> anyhow::Result<()> {
                let mut h = tar::Header::new_gnu();
                h.set_size(body.len() as u64);
                h.set_mode(mode);
                h.set_mtime(1_700_000_000);
                b.append_data(&mut h, path, body)?;
                Ok(())
            };
        while written < LAYER_BYTES {
            let r = rng.next();
            let size = if matches!(r % 50, 0) {
                (1 << 20) | ((r >> 40) as usize % (4 << 20))
            } else {
                512 + (r >> 32) as usize % (24 << 10)
            };
            let body = fill(&mut rng, size);
            add(
                &mut b,
                &format!("layer{layer}/d{}/f{n}", n % 64),
                &body,
                0o644,
            )?;
            written += size as u64;
            n += 1;
        }
        match layer {
            0 => add(&mut b, "usr/bin/app", &fill(&mut rng, 3 << 20), 0o755)?,
            7 => add(
                &mut b,
                "usr/local/bin/docker-entrypoint.sh",
                b"#!/bin/sh\nset -e\nexec /usr/bin/app \"$@\"\n",
                0o755,
            )?,
            4 => add(&mut b, "etc/os-release", b"ID=bench\n", 0o644)?,
            _ => {}
        }
        add(
            &mut b,
            &format!("layer{layer}/last"),
            &fill(&mut rng, 4096),
            0o644,
        )?;
        let hw = b.into_inner()?;
        diff_ids.push(format!("sha256:{}", hex::encode(hw.hash.finalize())));
        hw.inner.finish()?.flush()?;
        let bytes = std::fs::read(&tmp)?;
        let d = hex::encode(Sha256::digest(&bytes));
        std::fs::rename(&tmp, blobs.join(&d))?;
        names.push_str(&format!("{d}\n"));
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{d}"), "size": bytes.len()}));
        eprintln!("layer {layer}: {n} files, {} MiB gzip", bytes.len() >> 20);
    }
    let put = |v: serde_json::Value| -> anyhow::Result<(String, usize)> {
        let bytes = serde_json::to_vec(&v)?;
        let d = hex::encode(Sha256::digest(&bytes));
        std::fs::write(blobs.join(&d), &bytes)?;
        Ok((format!("sha256:{d}"), bytes.len()))
    };
    let (cd, cs) = put(
        serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Entrypoint": ["/usr/local/bin/docker-entrypoint.sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}}),
    )?;
    let (md, ms) = put(
        serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}, "layers": descs}),
    )?;
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "bench"}}]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index)?)?;
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    std::fs::write(layout.join("layers"), names)?;
    Ok(())
}

/// A bundle like `runc spec` makes, with a small rootfs.
fn make_bundle(dir: &Path) -> anyhow::Result<PathBuf> {
    let b = dir.join("bundle");
    std::fs::create_dir_all(b.join("rootfs/bin"))?;
    std::fs::write(b.join("rootfs/bin/app"), b"\x7fELF")?;
    let cfg = serde_json::json!({
        "ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": true},
        "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/app", "--serve"],
                    "env": ["PATH=/usr/bin:/bin"], "cwd": "/"},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
    });
    std::fs::write(b.join("config.json"), serde_json::to_vec_pretty(&cfg)?)?;
    Ok(b)
}

struct HashWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
