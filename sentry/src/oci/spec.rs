//! What `snare spec` writes and `snare features` prints.

use oci_spec::runtime::{Features, LinuxFeature, LinuxNamespaceType, Spec};

use super::{error, OciError, OCI_VERSION};

/// A starting `config.json`, as `runc spec` writes one: `sh` in `./rootfs` (read-only), as
/// root, with the usual mounts and namespaces; hostname `snare`, no terminal (snare has
/// none to give yet).
pub fn default_spec() -> Result<Spec, OciError> {
    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.to_string());
    spec.set_hostname(Some("snare".to_string()));
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(false));
    }
    Ok(spec)
}

/// `config.json`'s text for [`default_spec`], pretty-printed.
pub fn default_spec_json() -> Result<String, OciError> {
    serde_json::to_string_pretty(&default_spec()?).map_err(|e| error(format!("spec: {e}")))
}

/// Mount types and options `config.json` may use: binds (of directories), tmpfs, and the
/// file systems the sandbox has of its own.
const MOUNT_OPTIONS: &[&str] = &[
    "bind",
    "rbind",
    "ro",
    "rw",
    "nosuid",
    "nodev",
    "noexec",
    "private",
    "rprivate",
    "strictatime",
    "relatime",
    "noatime",
    "mode",
    "size",
    "nr_inodes",
];

/// What `snare features` prints: the spec versions, no hooks (not run yet), the mount
/// options taken, the namespaces (a network namespace can be joined by path; the
/// others the sandbox makes itself), and the cgroups (`oci::cgroup`: v1 and v2, no systemd
/// driver).
pub fn features() -> Result<Features, OciError> {
    let linux = oci_spec::runtime::LinuxFeatureBuilder::default()
        .namespaces(vec![
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::User,
        ])
        .cgroup(
            oci_spec::runtime::CgroupBuilder::default()
                .v1(true)
                .v2(true)
                .systemd(false)
                .systemd_user(false)
                .rdma(false)
                .build()
                .map_err(|e| error(format!("features: {e}")))?,
        )
        .build()
        .map_err(|e| error(format!("features: {e}")))?;
    oci_spec::runtime::FeaturesBuilder::default()
        .oci_version_min("1.0.0")
        .oci_version_max(OCI_VERSION)
        .hooks(Vec::<String>::new())
        .mount_options(
            MOUNT_OPTIONS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .linux::<LinuxFeature>(linux)
        .build()
        .map_err(|e| error(format!("features: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn default_spec_maps() {
        let text = default_spec_json().expect("json");
        let spec: Spec = serde_json::from_str(&text).expect("reads back");
        let launch = crate::oci::bundle::map(&spec, Path::new("/b")).expect("maps");
        assert_eq!(launch.args, ["sh"]);
        assert!(launch.read_only_root);
        assert_eq!(launch.network, crate::cli::Network::None);
    }

    #[test]
    fn features_json() {
        let json = serde_json::to_value(features().expect("features")).expect("json");
        assert_eq!(json["ociVersionMax"], OCI_VERSION);
        assert_eq!(json["hooks"], serde_json::json!([]));
        assert!(json["linux"]["namespaces"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n == "network")));
        assert_eq!(json["linux"]["cgroup"]["v1"], true);
        assert_eq!(json["linux"]["cgroup"]["systemd"], false);
    }
}
