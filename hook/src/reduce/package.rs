//! `package.json` scripts, for `npm start` / `npm run NAME` / `yarn start`: the runner runs
//! the script's text with `sh -c` (npm's default `script-shell`), with
//! `node_modules/.bin` put in front of PATH by the caller.
//!
//! It reads one file through the [`Vfs`], bounded by `limits.max_read_bytes`; a missing or
//! malformed manifest means "no such script". It does not run `pre`/`post` scripts or read
//! workspaces.

use entrytrace_config::Limits;

use crate::vfs::Vfs;

/// The text of script `name` in the manifest at `manifest`.
pub fn script(vfs: &dyn Vfs, manifest: &str, name: &str, limits: &Limits) -> Option<String> {
    let body = vfs.read(manifest, limits.max_read_bytes).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&body).ok()?;
    json.get("scripts")?.get(name)?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    #[test]
    fn reads_scripts_from_the_manifest() {
        let mut v = MemVfs::new();
        v.add_file(
            "/app/package.json",
            0o644,
            br#"{"name":"x","scripts":{"start":"node server.js","n":1}}"#,
        );
        v.add_file("/bad/package.json", 0o644, b"{not json");
        let l = Limits::default();
        assert_eq!(
            script(&v, "/app/package.json", "start", &l).as_deref(),
            Some("node server.js")
        );
        for (m, n) in [
            ("/app/package.json", "web"),
            ("/app/package.json", "n"),
            ("/bad/package.json", "start"),
            ("/none/package.json", "start"),
        ] {
            assert_eq!(script(&v, m, n, &l), None, "{m} {n}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_manifests_never_panic_and_give_only_strings(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            json in "\\{\"scripts\":\\{\"start\":[\"a-z 0-9\\[\\]\\{\\}:,]{0,40}",
        ) {
            for b in [body, json.into_bytes()] {
                let mut v = MemVfs::new();
                v.add_file("/p.json", 0o644, &b);
                let got = script(&v, "/p.json", "start", &Limits::default());
                if let Some(text) = got {
                    let parsed: serde_json::Value = serde_json::from_slice(&b).expect("parsed before");
                    proptest::prop_assert_eq!(parsed["scripts"]["start"].as_str(), Some(text.as_str()));
                }
            }
        }
    }
}
