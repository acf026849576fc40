"""Make.com scenarios shipped with the hub: the blueprints, ``render`` and ``lint``.

``iml`` tokenises mapping expressions, ``tree`` walks modules with their scope, ``shapes`` knows
what each module outputs, ``rules`` hold the lint checks run by ``lint``; ``render`` fills the
placeholders of ``blueprints/*.json`` and ``signing`` makes hub calls sign their bodies.
"""
