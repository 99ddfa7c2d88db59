//! Launchers that run a `package.json` script by its bare name: `yarn web`, `pnpm dev`
//! (yarn's and pnpm's "run a script when the word is not one of my own commands" rule; npm
//! has no such rule and needs `npm run`).
//!
//! The wrapper catalogue handles `npm start`, `npm run x`, `yarn start`, `yarn run x`; for
//! every other subcommand of yarn/pnpm this says which script name to try. The walk then
//! runs the script's text with `sh -c` (see `walk::Walker::package_script`), so shellflow
//! follows it like any command line, with a chain step located at the `package.json`. A
//! word that is one of the launcher's own commands (`yarn install`) is never a script.

/// Built-in commands of yarn (classic and berry) and pnpm that are not scripts.
const BUILTINS: &[&str] = &[
    "add",
    "audit",
    "autoclean",
    "bin",
    "cache",
    "check",
    "config",
    "create",
    "dedupe",
    "dlx",
    "exec",
    "generate-lock-entry",
    "global",
    "help",
    "import",
    "info",
    "init",
    "install",
    "licenses",
    "link",
    "list",
    "login",
    "logout",
    "ls",
    "node",
    "outdated",
    "owner",
    "pack",
    "patch",
    "policies",
    "prune",
    "publish",
    "rebuild",
    "remove",
    "root",
    "run",
    "store",
    "tag",
    "team",
    "unlink",
    "unplug",
    "up",
    "update",
    "upgrade",
    "upgrade-interactive",
    "version",
    "versions",
    "why",
    "workspace",
    "workspaces",
];
/// Launchers with the bare-script rule.
const LAUNCHERS: &[&str] = &["yarn", "pnpm"];

/// The script `argv` runs by bare name (`yarn web` → `web`), if it is such a call.
pub fn implicit_script(argv: &[String]) -> Option<&str> {
    let a0 = argv.first()?;
    let name = a0.rsplit('/').next().unwrap_or(a0);
    if !LAUNCHERS.contains(&name) {
        return None;
    }
    let word = argv.iter().skip(1).find(|w| !w.starts_with('-'))?;
    (!BUILTINS.contains(&word.as_str())).then_some(word.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_script_names_of_yarn_and_pnpm_are_scripts_but_builtins_are_not() {
        for (line, want) in [
            ("yarn web", Some("web")),
            ("/usr/local/bin/yarn --silent serve", Some("serve")),
            ("pnpm dev", Some("dev")),
            ("bun start", None),
            ("yarn install", None),
            ("pnpm exec x", None),
            ("yarn", None),
            ("npm web", None),
        ] {
            let argv: Vec<String> = line.split(' ').map(String::from).collect();
            assert_eq!(implicit_script(&argv), want, "{line}");
        }
    }
}
