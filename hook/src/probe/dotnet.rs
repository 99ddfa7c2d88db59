//! The .NET detector: `dotnet [exec] X.dll` and its `X.runtimeconfig.json` (the shared
//! framework and version it needs), an apphost `X` next to `X.dll`, and single-file bundles
//! (the bundle marker [`super::elf`] and [`super::pe`] already find).
//!
//! The runtimeconfig is read bounded by `limits.max_metadata_bytes` and parsed as JSON; a
//! malformed one is evidence, not an error. The DLL is validated by its `MZ` head (and the
//! CLI header when [`super::pe`] finds one). It does not read `deps.json` nor probe NuGet
//! caches.

use super::detect::{first_operand, Detection, Subject};
use super::{probe_file, Format};

/// `dotnet` host options that take the next word.
const VALUE_OPTIONS: &[&str] = &[
    "--roll-forward",
    "--additionalprobingpath",
    "--additional-deps",
    "--depsfile",
    "--runtimeconfig",
    "--fx-version",
];

/// The frameworks a `runtimeconfig.json` asks for, as `name version` strings.
pub fn parse_runtimeconfig(body: &[u8]) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let opts = v.get("runtimeOptions")?;
    let one = |f: &serde_json::Value| {
        let name = f.get("name")?.as_str()?;
        let version = f.get("version").and_then(|v| v.as_str()).unwrap_or("?");
        Some(format!("{name} {version}"))
    };
    let mut out: Vec<String> = opts.get("framework").and_then(one).into_iter().collect();
    if let Some(list) = opts.get("frameworks").and_then(|f| f.as_array()) {
        out.extend(list.iter().take(16).filter_map(one));
    }
    if out.is_empty() {
        if let Some(tfm) = opts.get("tfm").and_then(|t| t.as_str()) {
            out.push(format!("target {tfm} (self-contained)"));
        }
    }
    Some(out)
}

pub fn detect(s: &Subject<'_>) -> Option<Detection> {
    if let Format::Elf(e) = &s.probe.format {
        if e.dotnet_bundle {
            return Some(Detection::found(
                format!("single-file bundle {}", s.path),
                format!("{} is a .NET single-file bundle", s.path),
            ));
        }
    }
    if let Format::Pe(p) = &s.probe.format {
        if p.dotnet_bundle || p.managed {
            return Some(Detection::found(
                format!("assembly {}", s.path),
                format!("{} is a .NET executable", s.path),
            ));
        }
    }
    let argv: Vec<String> = match s.argv.get(1).map(String::as_str) {
        Some("exec") => std::iter::once(s.argv[0].clone())
            .chain(s.argv.iter().skip(2).cloned())
            .collect(),
        _ => s.argv.to_vec(),
    };
    let (_, dll) = first_operand(&argv, VALUE_OPTIONS, &[])?;
    if !dll.ends_with(".dll") {
        return None;
    }
    Some(dll_detection(s, dll, "dotnet"))
}

/// An apphost: a native `X` next to `X.dll` (what `dotnet publish` makes).
pub fn apphost(s: &Subject<'_>) -> Option<Detection> {
    if !matches!(s.probe.format, Format::Elf(_)) {
        return None;
    }
    let dll = format!("{}.dll", s.path);
    s.file(&dll)?;
    let mut d = dll_detection(s, &dll, "apphost");
    d.family = Some("dotnet");
    d.evidence
        .insert(0, format!("{} is the apphost of {dll}", s.path));
    Some(d)
}

fn dll_detection(s: &Subject<'_>, dll: &str, host: &str) -> Detection {
    let (real, size) = match s.artefact_file(dll, "assembly", host) {
        Ok(found) => found,
        Err(lacking) => return *lacking,
    };
    let mut d = Detection::found(
        format!("assembly {real}"),
        format!("{host} runs the assembly {real}"),
    );
    let config = format!("{}.runtimeconfig.json", real.trim_end_matches(".dll"));
    match s
        .read_text(&config)
        .map(|t| parse_runtimeconfig(t.as_bytes()))
    {
        Some(Some(fw)) if !fw.is_empty() => {
            d.evidence.push(format!("{config}: {}", fw.join(", ")));
        }
        Some(_) => d.evidence.push(format!("{config}: no framework named")),
        None => d.evidence.push(format!("no {config}")),
    }
    match probe_file(s.vfs, &real, size, s.limits).map(|p| p.format) {
        Ok(Format::Pe(p)) => {
            let what = if p.managed {
                "a managed PE (CLI header)"
            } else {
                "a PE file"
            };
            d.validated = Some(format!("{real} is {what}"));
        }
        _ => d.evidence.push(format!("{real} is not a PE file")),
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::detect::tests::detect_line;
    use crate::vfs::mem::MemVfs;

    #[test]
    fn dotnet_hosts_apphosts_and_bundles_name_their_assembly() {
        let mut v = MemVfs::new();
        let mut dll = b"MZ".to_vec();
        dll.resize(256, 0);
        v.add_file("/app/Api.dll", 0o644, &dll);
        v.add_file(
            "/app/Api.runtimeconfig.json",
            0o644,
            br#"{"runtimeOptions":{"framework":{"name":"Microsoft.NETCore.App","version":"8.0.1"}}}"#,
        );
        v.add_file("/app/Text.dll", 0o644, b"not a pe\n");
        v.add_tiny_elf("/app/Api", 0o755, None);
        let mut bundle = dll.clone();
        bundle.extend(crate::probe::elf::DOTNET_BUNDLE_SIGNATURE);
        v.add_file("/app/App.exe", 0o755, &bundle);
        // (line, path, family, artefact, f6, missing, evidence)
        type Case<'a> = (&'a str, &'a str, &'a str, &'a str, bool, bool, &'a str);
        let cases: &[Case] = &[
            (
                "dotnet Api.dll",
                "/usr/bin/dotnet",
                "dotnet",
                "assembly /app/Api.dll",
                true,
                false,
                "Microsoft.NETCore.App 8.0.1",
            ),
            (
                "dotnet exec --roll-forward Major /app/Api.dll",
                "/usr/bin/dotnet",
                "dotnet",
                "assembly /app/Api.dll",
                true,
                false,
                "runs the assembly",
            ),
            (
                "dotnet Text.dll",
                "/usr/bin/dotnet",
                "dotnet",
                "assembly /app/Text.dll",
                false,
                false,
                "no /app/Text.runtimeconfig.json",
            ),
            (
                "dotnet Gone.dll",
                "/usr/bin/dotnet",
                "dotnet",
                "assembly /app/Gone.dll",
                false,
                true,
                "missing",
            ),
            (
                "/app/Api",
                "/app/Api",
                "c",
                "assembly /app/Api.dll",
                true,
                false,
                "apphost of /app/Api.dll",
            ),
            (
                "/app/App.exe",
                "/app/App.exe",
                "dotnet",
                "assembly /app/App.exe",
                false,
                false,
                "is a .NET executable",
            ),
        ];
        for (line, path, family, artefact, f6, missing, evidence) in cases {
            let d = detect_line(&v, line, family, (path, "/app", &[]));
            assert_eq!(d.artefact.as_deref(), Some(*artefact), "{line}: {d:?}");
            assert_eq!(
                (d.validated.is_some(), d.missing.is_some()),
                (*f6, *missing),
                "{line}: {d:?}"
            );
            assert!(
                d.evidence.iter().any(|e| e.contains(evidence)),
                "{line}: {d:?}"
            );
        }
        let apphost = detect_line(&v, "/app/Api", "c", ("/app/Api", "/app", &[]));
        assert_eq!(apphost.family, Some("dotnet"));
    }

    #[test]
    fn runtimeconfigs_name_their_frameworks() {
        for (body, want) in [
            (
                r#"{"runtimeOptions":{"tfm":"net8.0","framework":{"name":"Microsoft.AspNetCore.App","version":"8.0.0"}}}"#,
                Some(vec!["Microsoft.AspNetCore.App 8.0.0"]),
            ),
            (
                r#"{"runtimeOptions":{"frameworks":[{"name":"Microsoft.NETCore.App","version":"9.0.0"},{"name":"Microsoft.AspNetCore.App"}]}}"#,
                Some(vec![
                    "Microsoft.NETCore.App 9.0.0",
                    "Microsoft.AspNetCore.App ?",
                ]),
            ),
            (
                r#"{"runtimeOptions":{"tfm":"net8.0","includedFrameworks":[]}}"#,
                Some(vec!["target net8.0 (self-contained)"]),
            ),
            (r#"{"runtimeOptions":{"framework":7}}"#, Some(vec![])),
            (r#"{"other":1}"#, None),
            ("{nope", None),
        ] {
            let got = parse_runtimeconfig(body.as_bytes());
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{body}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_runtimeconfigs_never_panic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            json in "\\{\"runtimeOptions\":\\{\"frameworks?\":[\\[\\{\"a-z:,0-9\\]\\} ]{0,60}",
        ) {
            let _ = parse_runtimeconfig(&body);
            let _ = parse_runtimeconfig(json.as_bytes());
        }
    }
}
