//! Bundles the web UI (web/, TypeScript) with npm and Vite into OUT_DIR, compresses each file, and
//! writes the table of embedded assets that src/lib.rs includes.
//!
//! The sources are copied into OUT_DIR first, so `npm ci` never writes into the source tree, and
//! the installed `node_modules` is reused while the lockfile is unchanged.
//! `FERROFLOW_UI_DIST=<dir>` embeds an already-built bundle instead of running npm.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// What the bundle is made from; a change to any of these rebuilds it.
const SOURCES: &[&str] = &["src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"];

fn main() {
    println!("cargo::rerun-if-env-changed=FERROFLOW_UI_DIST");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let table = out.join("assets.rs");
    if env::var_os("CARGO_FEATURE_BUNDLE").is_none() {
        fs::write(&table, "&[]").expect("OUT_DIR is writable");
        return;
    }
    let dist = match env::var_os("FERROFLOW_UI_DIST") {
        Some(dir) => {
            println!("cargo::rerun-if-changed={}", Path::new(&dir).display());
            PathBuf::from(dir)
        }
        None => bundle(&out),
    };
    fs::write(&table, asset_table(&dist, &out.join("compressed"))).expect("OUT_DIR is writable");
}

fn bundle(out: &Path) -> PathBuf {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    for source in SOURCES {
        println!("cargo::rerun-if-changed={}", web.join(source).display());
    }
    let work = out.join("web");
    let installed_lock = work.join("node_modules").join(".ferroflow-lock");
    let lock = fs::read(web.join("package-lock.json")).expect("web/package-lock.json is committed");
    // A fresh copy of the sources, keeping node_modules.
    for source in SOURCES {
        let target = work.join(source);
        if target.is_dir() {
            fs::remove_dir_all(&target).expect("OUT_DIR is writable");
        }
        copy(&web.join(source), &target);
    }
    if fs::read(&installed_lock).ok().as_deref() != Some(lock.as_slice()) {
        npm(&work, &["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]);
        fs::write(&installed_lock, &lock).expect("OUT_DIR is writable");
    }
    let dist = out.join("dist");
    if dist.exists() {
        fs::remove_dir_all(&dist).expect("OUT_DIR is writable");
    }
    let status = npm_command(&work).args(["run", "--silent", "build"]).env("FERROFLOW_UI_OUT_DIR", &dist).status();
    match status {
        Ok(status) if status.success() => dist,
        Ok(status) => panic!("bundling the web UI failed ({status}); see the output above"),
        Err(err) => no_npm(&err),
    }
}

fn npm_command(dir: &Path) -> Command {
    let mut command = Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" });
    command.current_dir(dir);
    command
}

fn npm(dir: &Path, args: &[&str]) {
    match npm_command(dir).args(args).status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("`npm {}` failed ({status}) while building the web UI", args.join(" ")),
        Err(err) => no_npm(&err),
    }
}

fn no_npm(err: &std::io::Error) -> ! {
    panic!(
        "building the web UI needs Node.js (18 or later, as Vite 6 requires) and npm, and running npm failed: {err}.\n\
         Install them (Debian/Ubuntu: `apt install nodejs npm`; elsewhere: https://nodejs.org), or build \
         without the UI: `cargo build --release --no-default-features` (the server then says at `/` that \
         its UI was left out), or embed a bundle built elsewhere with FERROFLOW_UI_DIST=<dir>."
    )
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        fs::create_dir_all(to).expect("OUT_DIR is writable");
        for entry in fs::read_dir(from).expect("web sources are readable") {
            let entry = entry.expect("web sources are readable");
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else if from.exists() {
        fs::create_dir_all(to.parent().expect("a file has a parent")).expect("OUT_DIR is writable");
        fs::copy(from, to).expect("web sources are readable");
    }
}

/// The Rust expression `&[Asset { .. }, ..]` for every file under `dist`, each with its gzip form
/// written under `compressed`.
fn asset_table(dist: &Path, compressed: &Path) -> String {
    let mut files = Vec::new();
    collect(dist, dist, &mut files);
    files.sort();
    assert!(
        files.iter().any(|path| path == "index.html"),
        "the web UI bundle in {} has no index.html",
        dist.display()
    );
    let mut table = String::from("&[\n");
    for path in files {
        let source = dist.join(&path);
        let body = fs::read(&source).expect("the bundle is readable");
        let gzip = compressed.join(format!("{path}.gz"));
        fs::create_dir_all(gzip.parent().expect("a file has a parent")).expect("OUT_DIR is writable");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&body).expect("compressing in memory");
        let packed = encoder.finish().expect("compressing in memory");
        // Compression only pays where it saves something (not for PNGs, say).
        let gzip_expr = if packed.len() + 64 < body.len() {
            fs::write(&gzip, packed).expect("OUT_DIR is writable");
            format!("Some(include_bytes!({:?}))", gzip.display().to_string())
        } else {
            "None".to_owned()
        };
        writeln!(
            table,
            "    Asset {{ path: {path:?}, content_type: {:?}, body: include_bytes!({:?}), gzip: {gzip_expr} }},",
            content_type(&path),
            source.display().to_string(),
        )
        .expect("writing to a String");
    }
    table.push(']');
    table
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot read the web UI bundle {}: {err}", dir.display())) {
        let path = entry.expect("the bundle is readable").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("under the root");
            files.push(relative.to_str().expect("bundle file names are UTF-8").replace('\\', "/"));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
