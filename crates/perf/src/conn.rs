//! A blocking connection to one broker: request/response calls for the setup requests, and
//! the split halves (writer, reader) that pipelined produce uses.

use std::io::{BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::protocol;
use crate::wire::{error, read_frame, Result};

pub const CLIENT_ID: &str = "sluice-perf";

pub struct Connection {
    pub stream: TcpStream,
    pub reader: BufReader<TcpStream>,
    pub address: String,
    next_correlation_id: i32,
    buffer: Vec<u8>,
}

impl Connection {
    pub fn open(address: &str) -> Result<Self> {
        let addresses: Vec<_> = address
            .to_socket_addrs()
            .map_err(|failure| crate::wire::Error(format!("{address}: {failure}")))?
            .collect();
        let mut last = None;
        for socket_address in addresses {
            match TcpStream::connect_timeout(&socket_address, Duration::from_secs(10)) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    let reader = BufReader::with_capacity(1 << 20, stream.try_clone()?);
                    return Ok(Connection {
                        stream,
                        reader,
                        address: address.to_owned(),
                        next_correlation_id: 1,
                        buffer: Vec::new(),
                    });
                }
                Err(failure) => last = Some(failure),
            }
        }
        match last {
            Some(failure) => error(format!("cannot connect to {address}: {failure}")),
            None => error(format!("{address} resolves to no address")),
        }
    }

    pub fn next_correlation_id(&mut self) -> i32 {
        let id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1).max(1);
        id
    }

    /// A correlation id counter for the writer half of a split connection (after the setup
    /// requests, which used small ids: a response is matched to its request, not to a count).
    pub fn open_counter() -> Correlation {
        Correlation(1000)
    }

    /// Sends `frame` and reads the one response, handing it to `parse`.
    pub fn call<T>(
        &mut self,
        frame: &[u8],
        correlation_id: i32,
        parse: impl FnOnce(&[u8], i32) -> Result<T>,
    ) -> Result<T> {
        self.stream.write_all(frame)?;
        read_frame(&mut self.reader, &mut self.buffer)?;
        parse(&self.buffer, correlation_id)
    }

    /// ApiVersions, and a check that the broker serves the versions we send.
    pub fn negotiate(&mut self, needed: &[(&str, (i16, i16))]) -> Result<()> {
        let id = self.next_correlation_id();
        let apis = self.call(
            &protocol::api_versions_request(id, CLIENT_ID),
            id,
            protocol::api_versions_response,
        )?;
        protocol::check_versions(&apis, needed)
            .map_err(|failure| crate::wire::Error(format!("{}: {failure}", self.address)))
    }
}

/// Connects to the first reachable address of a comma-separated bootstrap list.
pub fn bootstrap(list: &str) -> Result<Connection> {
    let mut failures = Vec::new();
    for address in list
        .split(',')
        .map(str::trim)
        .filter(|address| !address.is_empty())
    {
        match Connection::open(address) {
            Ok(connection) => return Ok(connection),
            Err(failure) => failures.push(failure.0),
        }
    }
    error(format!(
        "no bootstrap broker reachable: {}",
        failures.join("; ")
    ))
}

/// Correlation ids for the writer half of a split connection.
pub struct Correlation(i32);

impl Correlation {
    pub fn next(&mut self) -> i32 {
        self.0 = self.0.wrapping_add(1).max(1);
        self.0
    }
}
