//! The site's built files: the addresses the pages link to, and which of them a browser
//! may keep for good.
//!
//! A build with `hash-files` (cargo-leptos) names the bundle after its content —
//! `gatehouse.<hash>.js`, `.wasm`, `.css` — and writes the hashes into a small file
//! beside the server binary (`hash.txt`, or `LEPTOS_HASH_FILE_NAME`). The server reads it
//! once, at start-up: every page then links the hashed names, and those answers say
//! `immutable` (a new build has new names, so a kept copy is never stale). Files without
//! a hash in their name (the favicon, `/passkeys.js`, wasm-bindgen's snippets) are kept
//! but revalidated.
//!
//! Only a name that is its file's hash is trusted: the server checks each one at
//! start-up. A split build (`--split`) needs it: cargo-leptos names the files, then
//! rewrites some of them to refer to the others' new names, so a file can keep its name
//! while its content changes. The page links such a file with its content's hash as a
//! query when it can (the WebAssembly app, the stylesheet); otherwise it is revalidated
//! like an unhashed one.
//!
//! A split build also has a manifest of the pieces each lazily loaded page needs: a page
//! split out of the main bundle links its pieces as preloads (`app::preload_pieces`).

use anyhow::{bail, Context};
use base64::Engine;
use leptos::config::LeptosOptions;
use md5::Digest;
use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

/// What the pages link to.
#[derive(Clone, Debug)]
pub struct SiteFiles {
    /// The wasm-bindgen module that loads the app (`/pkg/gatehouse.js`).
    pub js: String,
    /// The WebAssembly app itself.
    pub wasm: String,
    /// The stylesheet.
    pub css: String,
    /// Whether the names above carry content hashes (and may be kept for good).
    pub hashed: bool,
    /// The module script that loads the app and hydrates the page (written once).
    pub loader: String,
    /// A split build's manifest, for leptos to preload a lazily loaded page's pieces.
    pub split: Option<leptos::WasmSplitManifest>,
    /// The addresses of the files whose names are their content's hash.
    immutable: HashSet<String>,
}

/// The split loader's name in a build without hashes (cargo-leptos' placeholder).
const PLAIN_SPLIT_LOADER: &str = "__wasm_split.______________________.js";

/// The stylesheet's address in an unhashed build: error pages made before the layer that
/// knows the site's files are written with it.
pub const PLAIN_STYLESHEET: &str = "/pkg/gatehouse.css";

impl SiteFiles {
    /// The names of a build without hashes: `/<pkg>/<output>.js` and so on.
    pub fn plain(options: &LeptosOptions) -> SiteFiles {
        let base = format!(
            "/{}/{}",
            options.site_pkg_dir.trim_matches('/'),
            options.output_name
        );
        SiteFiles::new(
            format!("{base}.js"),
            format!("{base}.wasm"),
            format!("{base}.css"),
            false,
        )
    }

    fn new(js: String, wasm: String, css: String, hashed: bool) -> SiteFiles {
        // The names are URL-safe (see `Hashes::parse`); as JSON strings they are valid
        // JavaScript strings whatever they hold.
        let quoted = |path: &str| serde_json::to_string(path).unwrap_or_default();
        let loader = format!(
            "import init, {{ hydrate }} from {js};\ninit({{ module_or_path: {wasm} }}).then(function () {{ hydrate(); }});",
            js = quoted(&js),
            wasm = quoted(&wasm),
        );
        SiteFiles {
            js,
            wasm,
            css,
            hashed,
            loader,
            split: None,
            immutable: HashSet::new(),
        }
    }

    /// The site's names under `options`: hashed when `options.hash_files` is on, from the
    /// hash file (an error when it is missing or malformed: pages linking files that do not
    /// exist would load no app and no style).
    pub fn resolve(options: &LeptosOptions) -> anyhow::Result<SiteFiles> {
        let pkg = options.site_pkg_dir.trim_matches('/');
        let pkg_dir = Path::new(&*options.site_root).join(pkg);
        let plain = SiteFiles::plain(options);
        if !options.hash_files {
            let split = read_split_manifest(&pkg_dir, "__wasm_split_manifest.json", PLAIN_SPLIT_LOADER, pkg)?;
            return Ok(SiteFiles { split, ..plain });
        }
        let path = hash_file_path(&options.hash_file);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "LEPTOS_HASH_FILES is on but the hash file {} cannot be read: build with \
                 `cargo leptos build` and keep its hash file beside the binary (or name it \
                 with LEPTOS_HASH_FILE_NAME)",
                path.display()
            )
        })?;
        let hashes = Hashes::parse(&text).with_context(|| format!("in the hash file {}", path.display()))?;
        let hashed = |plain: &str, extension: &str, hash: &str| {
            let stem = plain.trim_end_matches(extension);
            format!("{stem}.{hash}{extension}")
        };
        let site_root = Path::new(&*options.site_root);
        let mut immutable = named_by_content(&pkg_dir, pkg);
        // The WebAssembly file and the stylesheet are linked only by the page, so one
        // whose name went stale is linked with its content's hash as a query instead.
        // (Not the JavaScript module: the split loader imports it by its name, and one
        // module under two addresses would be two modules.)
        let mut versioned = |path: String| {
            if immutable.contains(&path) {
                return path;
            }
            match std::fs::read(site_root.join(path.trim_start_matches('/'))) {
                Ok(content) => {
                    let linked = format!("{path}?v={}", content_hash(&content));
                    immutable.insert(linked.clone());
                    linked
                }
                Err(_) => path,
            }
        };
        let wasm = versioned(hashed(&plain.wasm, ".wasm", &hashes.wasm));
        let css = versioned(hashed(&plain.css, ".css", &hashes.css));
        let mut files = SiteFiles::new(hashed(&plain.js, ".js", &hashes.js), wasm, css, true);
        if let (Some(manifest), Some(loader)) = (&hashes.manifest, &hashes.split) {
            let manifest = format!("__wasm_split_manifest.{manifest}.json");
            let loader = format!("__wasm_split.{loader}.js");
            files.split = read_split_manifest(&pkg_dir, &manifest, &loader, pkg)?;
        }
        files.immutable = immutable;
        Ok(files)
    }

    /// The linked files that are not in the site directory `site_root` (a build that is
    /// missing, or a hash file from another build).
    pub fn missing(&self, site_root: &Path) -> Vec<&str> {
        [&self.js, &self.wasm, &self.css]
            .into_iter()
            .map(|link| link.split_once('?').map_or(link.as_str(), |(path, _)| path))
            .filter(|path| !site_root.join(path.trim_start_matches('/')).is_file())
            .collect()
    }

    /// Whether `path_and_query` (a request's) is a file named by its content's hash, or
    /// linked with it, which never changes.
    pub fn is_immutable(&self, path_and_query: &str) -> bool {
        self.hashed && self.immutable.contains(path_and_query)
    }
}

/// A split build's manifest `name` in `pkg_dir` (none when the build is not split):
/// which pieces each lazily loaded function needs, and the loader that fetches them.
fn read_split_manifest(
    pkg_dir: &Path,
    name: &str,
    loader: &str,
    pkg: &str,
) -> anyhow::Result<Option<leptos::WasmSplitManifest>> {
    let path = pkg_dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let pieces: HashMap<String, Vec<String>> =
        serde_json::from_str(&text).with_context(|| format!("{} is not a split manifest", path.display()))?;
    Ok(Some(leptos::WasmSplitManifest(
        leptos::prelude::ArcStoredValue::new((format!("/{pkg}"), pieces, loader.to_owned())),
    )))
}

/// The addresses (`/<pkg>/<name>`) of the files in `pkg_dir` whose names carry the hash
/// of their content, as cargo-leptos writes it: `<stem>.<hash>.<extension>`, the hash
/// the URL-safe base64 of the content's MD5. Compressed copies (`.br`, `.gz`) are
/// answered for their originals' names and are not listed.
fn named_by_content(pkg_dir: &Path, pkg: &str) -> HashSet<String> {
    let Ok(entries) = std::fs::read_dir(pkg_dir) else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let mut parts = name.rsplit('.');
            let extension = parts.next()?;
            if matches!(extension, "br" | "gz") {
                return None;
            }
            let claimed = parts.next()?;
            parts.next()?;
            let content = std::fs::read(entry.path()).ok()?;
            (claimed == content_hash(&content)).then(|| format!("/{pkg}/{name}"))
        })
        .collect()
}

/// The hash cargo-leptos names a file holding `content` by: the URL-safe base64 of its
/// MD5 (a name, not a signature: nobody gains by making two files share one).
fn content_hash(content: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(md5::Md5::digest(content))
}

/// Where the hash file is: a relative name is beside the running binary (where
/// cargo-leptos writes it, and where leptos looks), an absolute one is itself.
fn hash_file_path(name: &str) -> PathBuf {
    let name = Path::new(name);
    if name.is_absolute() {
        return name.to_path_buf();
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    beside.join(name)
}

/// Whether the hash file `name` is there (for `LEPTOS_HASH_FILES` left unset).
pub fn hash_file_exists(name: &str) -> bool {
    hash_file_path(name).is_file()
}

/// The hashes of a hash file: the bundle's three, and a split build's two.
#[derive(Debug, PartialEq, Eq)]
struct Hashes {
    js: String,
    wasm: String,
    css: String,
    manifest: Option<String>,
    split: Option<String>,
}

impl Hashes {
    /// Lines `js: <hash>`, `wasm: <hash>`, `css: <hash>`, and `manifest:` and `split:`
    /// in a split build (others ignored). A hash is written into every page's script, so
    /// only URL-safe base64 letters are taken.
    fn parse(text: &str) -> anyhow::Result<Hashes> {
        let (mut js, mut wasm, mut css, mut manifest, mut split) = (None, None, None, None, None);
        for line in text.lines() {
            let Some((kind, hash)) = line.split_once(':') else {
                continue;
            };
            let slot = match kind.trim() {
                "js" => &mut js,
                "wasm" => &mut wasm,
                "css" => &mut css,
                "manifest" => &mut manifest,
                "split" => &mut split,
                _ => continue,
            };
            let hash = hash.trim();
            let fits = (1..=64).contains(&hash.len())
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !fits {
                bail!("the {} hash {hash:?} is not a file-name hash", kind.trim());
            }
            *slot = Some(hash.to_owned());
        }
        match (js, wasm, css) {
            (Some(js), Some(wasm), Some(css)) => Ok(Hashes {
                js,
                wasm,
                css,
                manifest,
                split,
            }),
            _ => bail!("it needs a js, a wasm and a css line"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos::prelude::GetValue;

    fn options(hash_file: &str) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name("gatehouse")
            .site_pkg_dir("pkg")
            .hash_files(true)
            .hash_file(hash_file.into())
            .build()
    }

    #[test]
    fn a_build_without_hashes_links_the_plain_names() {
        let mut options = options("unused");
        options.hash_files = false;
        let files = SiteFiles::resolve(&options).expect("plain");
        assert_eq!(files.js, "/pkg/gatehouse.js");
        assert_eq!(files.wasm, "/pkg/gatehouse.wasm");
        assert_eq!(files.css, PLAIN_STYLESHEET);
        assert!(!files.is_immutable("/pkg/gatehouse.wasm"));
    }

    #[test]
    fn the_hash_file_names_the_files_and_only_names_that_are_their_hash_are_immutable() {
        let site = tempfile::tempdir().expect("site");
        let pkg = site.path().join("pkg");
        std::fs::create_dir_all(pkg.join("snippets")).expect("pkg");
        let (js, wasm, css) = (content_hash(b"js"), content_hash(b"wasm"), content_hash(b"css"));
        std::fs::write(pkg.join(format!("gatehouse.{js}.js")), "js").expect("js");
        std::fs::write(pkg.join(format!("gatehouse.{wasm}.wasm")), "wasm").expect("wasm");
        std::fs::write(pkg.join(format!("gatehouse.{wasm}.wasm.br")), "brotli").expect("br");
        // Renamed, then rewritten by the build: its name is no longer its content's hash.
        std::fs::write(pkg.join(format!("gatehouse.{css}.css")), "css, rewritten").expect("css");
        std::fs::write(pkg.join("snippets/x.js"), "x").expect("snippet");
        let file = site.path().join("hash.txt");
        std::fs::write(
            &file,
            format!("js: {js}\nwasm: {wasm}\ncss: {css}\nother: ignored\n"),
        )
        .expect("write");
        let mut options = options(&file.display().to_string());
        options.site_root = site.path().display().to_string().into();
        let files = SiteFiles::resolve(&options).expect("hashed");
        assert_eq!(files.js, format!("/pkg/gatehouse.{js}.js"));
        assert_eq!(files.wasm, format!("/pkg/gatehouse.{wasm}.wasm"));
        // A stale name is linked with its content's hash.
        let linked_css = format!("/pkg/gatehouse.{css}.css?v={}", content_hash(b"css, rewritten"));
        assert_eq!(files.css, linked_css);
        assert!(files.is_immutable(&files.js));
        assert!(files.is_immutable(&files.wasm));
        assert!(files.is_immutable(&linked_css));
        assert!(
            !files.is_immutable(&format!("/pkg/gatehouse.{css}.css")),
            "its bare name is revalidated"
        );
        assert!(!files.is_immutable(&format!("/pkg/gatehouse.{css}.css?v=other")));
        assert!(
            files.missing(site.path()).is_empty(),
            "{:?}",
            files.missing(site.path())
        );
        assert!(!files.is_immutable("/pkg/gatehouse.wasm"));
        assert!(!files.is_immutable("/pkg/snippets/x.js"));
        assert!(files.split.is_none(), "not a split build");
    }

    #[test]
    fn a_split_build_gives_its_manifest_to_leptos() {
        let site = tempfile::tempdir().expect("site");
        let pkg = site.path().join("pkg");
        std::fs::create_dir_all(&pkg).expect("pkg");
        let manifest = r#"{"admin_route_1": ["piece.AAA", "shared.BBB"]}"#;
        std::fs::write(pkg.join("__wasm_split_manifest.M4n.json"), manifest).expect("manifest");
        let file = site.path().join("hash.txt");
        std::fs::write(&file, "js: j\nwasm: w\ncss: c\nmanifest: M4n\nsplit: S9l\n").expect("write");
        let mut options = options(&file.display().to_string());
        options.site_root = site.path().display().to_string().into();
        let files = SiteFiles::resolve(&options).expect("split");
        let split = files.split.expect("a manifest");
        let read = split.0.get_value();
        let (root, pieces, loader) = &read;
        assert_eq!(root, "/pkg");
        assert_eq!(loader, "__wasm_split.S9l.js");
        assert_eq!(pieces["admin_route_1"], vec!["piece.AAA", "shared.BBB"]);

        std::fs::write(pkg.join("__wasm_split_manifest.M4n.json"), "not json").expect("manifest");
        assert!(
            SiteFiles::resolve(&options).is_err(),
            "a broken manifest stops the start"
        );
    }

    #[test]
    fn the_files_missing_from_the_site_are_named() {
        let site = tempfile::tempdir().expect("site");
        std::fs::create_dir_all(site.path().join("pkg")).expect("pkg");
        std::fs::write(site.path().join("pkg/gatehouse.css"), "").expect("css");
        let mut options = options("unused");
        options.hash_files = false;
        let files = SiteFiles::resolve(&options).expect("plain");
        assert_eq!(
            files.missing(site.path()),
            vec!["/pkg/gatehouse.js", "/pkg/gatehouse.wasm"]
        );
    }

    #[test]
    fn a_missing_or_malformed_hash_file_stops_the_start() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("absent.txt");
        let error = SiteFiles::resolve(&options(&missing.display().to_string())).expect_err("missing");
        assert!(format!("{error:#}").contains("cannot be read"), "{error:#}");
        for text in [
            "js: a\nwasm: b\n",
            "js: a\nwasm: b\ncss: \"><script>\n",
            "js: a b\nwasm: b\ncss: c\n",
            "",
        ] {
            let file = dir.path().join("hash.txt");
            std::fs::write(&file, text).expect("write");
            assert!(
                SiteFiles::resolve(&options(&file.display().to_string())).is_err(),
                "{text:?}"
            );
        }
    }
}
