"""The kinds of control model: each is the ``format`` of its models.yaml entries and the word clients
see as ``kind``, beside the name users read. Plain data, so the studio checks units without torch."""

CONTROLNET = "controlnet"
T2I_ADAPTER = "t2i_adapter"
CONTROL_KINDS = {CONTROLNET: "ControlNet", T2I_ADAPTER: "T2I-Adapter"}
