"""An SMTP server's handler for the outbox benchmark (`python -m aiosmtpd -c bench.smtp.Counter FILE`):
accepts every message and appends a line per message to FILE, so what arrived can be counted. aiosmtpd's
Mailbox handler writes a Maildir file per message and, on this kind of machine, tops out below the rate
the benchmark has to tell apart (about 80 messages a second); this one costs the server next to nothing."""


class Counter:
    def __init__(self, path: str):
        self.file = open(path, "a", buffering=1)  # noqa: SIM115 - open for the server's life

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("bench.smtp.Counter takes the path of the file to count into")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        self.file.write(f"{len(envelope.content)}\n")
        return "250 Message accepted for delivery"
