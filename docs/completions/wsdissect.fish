# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_wsdissect_global_optspecs
    string join \n i/interface= D/list-interfaces format= v/explain diagram no-notes color= pretty-json full-payload max-payload= export= out= conn= stream= dir= opcode= host= port= packet= f/bpf= ws-port= decode= severity= diagnostics tls-keylog= w/write= duration= promiscuous B/buffer-size= snaplen= c/count= packets= j/threads= max-message-bytes= max-inflate= max-inflate-total= h/help V/version
end

function __fish_wsdissect_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_wsdissect_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_wsdissect_using_subcommand
    set -l cmd (__fish_wsdissect_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c wsdissect -n "__fish_wsdissect_needs_command" -s i -l interface -d 'Capture live from this interface instead of reading a file' -r -f -a "(__fish_print_interfaces)"
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l format -d 'Output format' -r -f -a "text\t'Human-readable: one line per frame, messages reassembled'
json\t'NDJSON, one event per line (docs/json.md)'
table\t'Summary tables at the end: connections, opcodes, message sizes, ping round trips'
conversation\t'Messages only, like a chat log (WebSocket\'s "follow stream")'
parquet\t'Parquet tables in the --out directory, for data engines (docs/parquet.md)'"
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l color -d 'Colour: auto (a terminal, unless NO_COLOR is set), always or never; also for the subcommands, before or after their name' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l max-payload -d 'Payload bytes kept per message otherwise' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l export -d 'Also write each message payload to DIR/conn{N}-{c2s|s2c}-{index:05}.{txt|bin} (the kept bytes; whole messages with --full-payload)' -r -F
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l out -d 'With --format parquet: the directory for the tables (created; must be empty)' -r -F
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l conn -d 'Only these connection ids (a comma list, or repeated)' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l stream -d 'Only the WebSocket sessions on these HTTP/2 streams (a comma list, or repeated; with --conn, of one connection)' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l dir -d 'Only frames, messages and diagnostics in this direction' -r -f -a "c2s\t''
s2c\t''"
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l opcode -d 'Only frames and messages with these opcodes (a comma list)' -r -f -a "text\t''
binary\t''
close\t''
ping\t''
pong\t''
continuation\t''"
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l host -d 'Only connections with this endpoint address (ip or ip:port) or Host header (a comma list, or repeated)' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l port -d 'Only connections with one of these ports on either side (a comma list, or repeated)' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l packet -d 'Only frames and messages carried by these packet numbers (a comma list, or repeated), and diagnostics at them' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -s f -l bpf -d 'BPF filter applied to packets, for files and live capture (live default: "tcp")' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l ws-port -d 'Treat connections on these ports as WebSocket even without a visible handshake (a comma list, or repeated; like Wireshark\'s "decode as")' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l decode -d 'Decode the messages of sessions on PORT (or of every session) as PROTO: socket.io, mqtt, stomp, graphql-transport-ws, graphql-ws or json-rpc, whatever the handshake said. `none` decodes nothing. Without it, the subprotocol, the request target or the first messages choose (docs/decoders.md). A comma list, or repeated' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l severity -d 'Only diagnostics of this severity or higher (error > warning > info)' -r -f -a "error\t''
warning\t''
info\t''"
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l tls-keylog -d 'Decrypt TLS (wss) with this key log (NSS format, as SSLKEYLOGFILE writes it); a pcapng\'s own Decryption Secrets Blocks are used without it' -r -F
complete -c wsdissect -n "__fish_wsdissect_needs_command" -s w -l write -d 'Also write the captured packets to this pcap file' -r -F
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l duration -d 'Stop after this many seconds' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -s B -l buffer-size -d 'Kernel capture buffer in MiB (more absorbs longer bursts without drops) [default: 64]' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l snaplen -d 'Snap length: bytes captured per packet [default: 262144]' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -s c -l count -d 'Stop after this many WebSocket messages (at least 1; leave it out for no limit)' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l packets -d 'Stop after this many packets (at least 1; leave it out for no limit)' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -s j -l threads -d 'Threads that dissect a capture file, its connections shared among them. The output is the same for every N. Default: the number of cores for NDJSON (the threads write its lines), one for the other views (they draw on one thread anyway). Live capture and -c use one' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l max-message-bytes -d 'Upper bound on the bytes kept for one message, even with --full-payload' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l max-inflate -d 'Stop inflating a compressed message past this many bytes (deflate bomb guard)' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l max-inflate-total -d 'Stop inflating a session\'s compressed messages once they have inflated this many bytes together (both directions)' -r
complete -c wsdissect -n "__fish_wsdissect_needs_command" -s D -l list-interfaces -d 'List the interfaces libpcap can capture on'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -s v -l explain -l verbose -d 'The teaching view: every frame bit by bit, with its meaning and RFC section'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l diagram -d 'With -v: start each frame with the RFC 6455 §5.2 box, filled in with its values'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l no-notes -d 'With -v: leave out the notes against common misconceptions (masking is not encryption, only clients mask, …), for a reader who knows them'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l pretty-json -d 'Pretty-print text messages that are JSON'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l full-payload -d 'Keep and print whole payloads (up to --max-message-bytes)'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l diagnostics -d 'Only diagnostics (the triage view): each with its connection\'s line, nothing else'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -l promiscuous -d 'Put the interface in promiscuous mode'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -s V -l version -d 'Print version'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -a "explain" -d 'Dissect raw frame bytes given in hex (or on standard input), no capture needed'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -a "report" -d 'Write one self-contained HTML page about a capture: sequence diagrams, every frame\'s bytes, plots and diagnostics (docs/report.md)'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -a "accept" -d 'Compute Sec-WebSocket-Accept for a Sec-WebSocket-Key, showing each step'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -a "completions" -d 'Print shell completions'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -a "man" -d 'Print the man page (roff)'
complete -c wsdissect -n "__fish_wsdissect_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand explain" -l from -d 'Who sent the bytes not marked `c:` or `s:` (decides which masking rule applies); default: each frame\'s MASK bit (clients mask)' -r -f -a "client\t''
server\t''"
complete -c wsdissect -n "__fish_wsdissect_using_subcommand explain" -l deflate -d 'Read the frames as on a connection that negotiated permessage-deflate (RFC 7692), with these parameters if given (e.g. `--deflate=server_no_context_takeover`): RSV1 marks a compressed message, and it is inflated' -r
complete -c wsdissect -n "__fish_wsdissect_using_subcommand explain" -l max-payload -d 'Payload bytes drawn per frame (a message\'s text shows four times as many); the rest is counted' -r
complete -c wsdissect -n "__fish_wsdissect_using_subcommand explain" -l color -d 'Colour: auto (a terminal, unless NO_COLOR is set), always or never; also for the subcommands, before or after their name' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsdissect -n "__fish_wsdissect_using_subcommand explain" -l diagram -d 'Start each frame with the RFC 6455 §5.2 box, filled in with its values'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand explain" -l full-payload -d 'Draw whole payloads'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand explain" -l no-notes -d 'Leave out the notes against common misconceptions (masking is not encryption, only clients mask, …)'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand explain" -l http -d 'Read the input as a pasted HTTP handshake, not frame bytes: a request, a response, or both one after the other (CRLF or LF line ends, or `\\r\\n` escapes; each argument a line). Each header is taught and the handshake checked, as in -v'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand explain" -s h -l help -d 'Print help'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand report" -s o -l output -d 'The page to write; `-` writes it to standard output' -r -F
complete -c wsdissect -n "__fish_wsdissect_using_subcommand report" -l max-frames -d 'Frames drawn per WebSocket session; later frames are counted, not drawn' -r
complete -c wsdissect -n "__fish_wsdissect_using_subcommand report" -l tls-keylog -d 'Decrypt TLS (wss) with this key log (NSS format, as SSLKEYLOGFILE writes it)' -r -F
complete -c wsdissect -n "__fish_wsdissect_using_subcommand report" -l ws-port -d 'Treat connections on these ports as WebSocket even without a visible handshake' -r
complete -c wsdissect -n "__fish_wsdissect_using_subcommand report" -s j -l threads -d 'Threads that dissect the captures (default: one; the page is drawn on one thread, so more save little); the page is the same for every N' -r
complete -c wsdissect -n "__fish_wsdissect_using_subcommand report" -l color -d 'Colour: auto (a terminal, unless NO_COLOR is set), always or never; also for the subcommands, before or after their name' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsdissect -n "__fish_wsdissect_using_subcommand report" -s h -l help -d 'Print help'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand accept" -l color -d 'Colour: auto (a terminal, unless NO_COLOR is set), always or never; also for the subcommands, before or after their name' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsdissect -n "__fish_wsdissect_using_subcommand accept" -s h -l help -d 'Print help'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand completions" -l color -d 'Colour: auto (a terminal, unless NO_COLOR is set), always or never; also for the subcommands, before or after their name' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsdissect -n "__fish_wsdissect_using_subcommand completions" -s h -l help -d 'Print help'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand man" -l color -d 'Colour: auto (a terminal, unless NO_COLOR is set), always or never; also for the subcommands, before or after their name' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsdissect -n "__fish_wsdissect_using_subcommand man" -s h -l help -d 'Print help'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand help; and not __fish_seen_subcommand_from explain report accept completions man help" -f -a "explain" -d 'Dissect raw frame bytes given in hex (or on standard input), no capture needed'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand help; and not __fish_seen_subcommand_from explain report accept completions man help" -f -a "report" -d 'Write one self-contained HTML page about a capture: sequence diagrams, every frame\'s bytes, plots and diagnostics (docs/report.md)'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand help; and not __fish_seen_subcommand_from explain report accept completions man help" -f -a "accept" -d 'Compute Sec-WebSocket-Accept for a Sec-WebSocket-Key, showing each step'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand help; and not __fish_seen_subcommand_from explain report accept completions man help" -f -a "completions" -d 'Print shell completions'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand help; and not __fish_seen_subcommand_from explain report accept completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c wsdissect -n "__fish_wsdissect_using_subcommand help; and not __fish_seen_subcommand_from explain report accept completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
