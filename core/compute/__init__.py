"""The compute service's contract: its RPC API (:mod:`.rpcapi`), the states an instance
goes through (:mod:`.states`), the API front ends call (:mod:`.api`) and what a compute
periodic task may use of the service that runs it (:mod:`.host`)."""
