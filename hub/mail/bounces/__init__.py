"""Delivery failures and spam complaints: what a mail server or a mailbox provider sends back.

``detect`` says whether a message is a bounce, ``dsn`` reads RFC 3464 delivery-status fields,
``transcripts`` reads the SMTP replies and wording that non-standard bounces quote,
``analysis`` turns all of it into hard/soft, recipient and diagnostic, ``complaints`` reads
RFC 5965 feedback reports and provider complaint notices, ``original`` finds the Message-ID of
the message we sent, ``mailman`` asks flufl.bounce for a second opinion.
"""
