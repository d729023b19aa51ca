"""Talking to Google: authorisation (:mod:`.auth`) and polite API calls (:mod:`.api`).

Used by the ``gcal`` and ``gmail`` sources, the ``gmail`` digest transport and
``clientline auth google``. Each account in ``clientline.yaml`` names how it is
authorised::

    sources:
      - type: gmail
        account: sam@studio.example        # a token stored by `clientline auth google`
      - type: gcal
        account: dana@firm.example
        credentials: /etc/clientline/sa.json   # or: a service account with domain-wide
        subject: dana@firm.example             #     delegation, acting as this user

Only read-only scopes are requested (``calendar.readonly``, ``gmail.readonly``);
``gmail.send`` is added only for an account that sends the digest through Gmail.
"""
