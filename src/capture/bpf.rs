//! BPF filters for capture files: libpcap compiles the expression once per link type, and the
//! program runs on each packet read by `pcap-parser`.

use std::collections::HashMap;

use super::CaptureError;
use crate::base::LinkType;

pub struct FileFilter {
    expression: String,
    programs: HashMap<LinkType, pcap::BpfProgram>,
}

impl FileFilter {
    /// Check the expression now (on Ethernet), so a typo is reported before any output.
    pub fn new(expression: &str) -> Result<FileFilter, CaptureError> {
        let mut f = FileFilter {
            expression: expression.to_string(),
            programs: HashMap::new(),
        };
        f.program(LinkType::ETHERNET)?;
        Ok(f)
    }

    fn program(&mut self, link: LinkType) -> Result<&pcap::BpfProgram, CaptureError> {
        if !self.programs.contains_key(&link) {
            let err = |e: pcap::Error| CaptureError::Filter {
                filter: self.expression.clone(),
                detail: e.to_string(),
            };
            let dead = pcap::Capture::dead(pcap::Linktype(link.base().0 as i32)).map_err(err)?;
            let program = dead.compile(&self.expression, true).map_err(err)?;
            self.programs.insert(link, program);
        }
        Ok(&self.programs[&link])
    }

    /// Does the packet pass? A link type the expression cannot be compiled for passes nothing.
    pub fn matches(&mut self, link: LinkType, data: &[u8]) -> bool {
        self.program(link).map(|p| p.filter(data)).unwrap_or(false)
    }
}
