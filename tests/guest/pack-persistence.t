#!/bin/bash
# pack-persistence.t: the persistence pack against its techniques on the live guest.
# Every pack is loaded (as an administrator would), the guest boots once
# and runs each variant of the cases in tests/guest/attacks/*.case whose
# pack is persistence; each must be blocked or alerted by the rule the case names,
# one record each (packs_lib.sh says how).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/packs_lib.sh"
guest_setup
packs_cases persistence
done_testing
