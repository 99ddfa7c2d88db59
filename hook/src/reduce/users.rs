//! User names and ids as the image defines them, read from its `/etc/passwd` and
//! `/etc/group` through the [`Vfs`].
//!
//! A user is written as the runtime and the droppers accept it: `name`, `uid`, `name:group`,
//! `uid:gid`. The result's `user` field is a name where the image knows one, else the uid;
//! uid 0 is `root` even in an image without a passwd file (the kernel's superuser). Only the
//! user part matters for the result; the group is kept as written. Missing or unreadable
//! files mean "no names known", never an error. It does not consult NSS or the host.

use crate::vfs::Vfs;

/// The image's user and group databases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    /// `(name, uid)` from `/etc/passwd`.
    users: Vec<(String, u32)>,
    /// `(name, gid)` from `/etc/group`.
    groups: Vec<(String, u32)>,
}

impl Users {
    /// Reads the databases of the image, each file capped at `limit` bytes.
    pub fn load(vfs: &dyn Vfs, limit: u64) -> Self {
        let read = |path: &str| {
            vfs.read(path, limit)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        Self {
            users: parse_db(&read("/etc/passwd")),
            groups: parse_db(&read("/etc/group")),
        }
    }

    /// The name of uid `uid`, if the image has one.
    pub fn name_of(&self, uid: u32) -> Option<&str> {
        if let Some((n, _)) = self.users.iter().find(|(_, u)| *u == uid) {
            return Some(n);
        }
        (uid == 0).then_some("root")
    }

    /// The uid of `name`, if the image has it.
    pub fn uid_of(&self, name: &str) -> Option<u32> {
        let found = self.users.iter().find(|(n, _)| n == name).map(|e| e.1);
        found.or_else(|| (name == "root").then_some(0))
    }

    /// The gid of group `name`, if the image has it.
    pub fn gid_of(&self, name: &str) -> Option<u32> {
        self.groups.iter().find(|(n, _)| n == name).map(|e| e.1)
    }

    /// How the result names the user written as `spec` (`None` = root): a name where known,
    /// else the uid; a name the image lacks is kept as written.
    pub fn display(&self, spec: Option<&str>) -> String {
        let user = spec.unwrap_or("").split(':').next().unwrap_or("");
        if user.is_empty() {
            return self.name_of(0).unwrap_or("0").to_string();
        }
        match user.parse::<u32>() {
            Ok(uid) => self
                .name_of(uid)
                .map_or_else(|| uid.to_string(), str::to_string),
            Err(_) => user.to_string(),
        }
    }

    /// True when `spec` names a user the image cannot resolve (a name absent from passwd).
    pub fn is_unknown(&self, spec: &str) -> bool {
        let user = spec.split(':').next().unwrap_or("");
        !user.is_empty() && user.parse::<u32>().is_err() && self.uid_of(user).is_none()
    }
}

fn parse_db(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?.trim();
            let id = f.nth(1)?.trim().parse().ok()?;
            (!name.is_empty()).then(|| (name.to_string(), id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    fn users() -> Users {
        let mut v = MemVfs::new();
        v.add_file(
            "/etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\n# comment\npostgres:x:999:999::/var/lib/postgresql:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\nbroken line\n",
        );
        v.add_file("/etc/group", 0o644, b"root:x:0:\napp:x:1000:\n");
        Users::load(&v, 1 << 20)
    }

    #[test]
    fn users_are_named_where_the_image_knows_them() {
        let u = users();
        for (spec, want) in [
            (None, "root"),
            (Some(""), "root"),
            (Some("0"), "root"),
            (Some("1000"), "app"),
            (Some("app:app"), "app"),
            (Some("1000:1000"), "app"),
            (Some("999"), "postgres"),
            (Some("postgres"), "postgres"),
            (Some("4242"), "4242"),
            (Some("4242:0"), "4242"),
            (Some("ghost"), "ghost"),
        ] {
            assert_eq!(u.display(spec), want, "{spec:?}");
        }
        assert_eq!(u.uid_of("postgres"), Some(999));
        assert_eq!(u.gid_of("app"), Some(1000));
        assert!(u.is_unknown("ghost:app"));
        assert!(!u.is_unknown("1234"));
    }

    #[test]
    fn an_image_without_passwd_still_knows_root() {
        let u = Users::load(&MemVfs::new(), 1024);
        assert_eq!(u.display(None), "root");
        assert_eq!(u.display(Some("1000")), "1000");
    }
}
