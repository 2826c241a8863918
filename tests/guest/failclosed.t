#!/bin/bash
# failclosed.t: --fail-closed on a live guest.  Paths vsp cannot read (a
# NULL or unmapped pointer, a path cut by an unmapped page) make a decision
# on partial inputs; under --fail-closed it is a deny with EPERM, audited
# with "failed":true, while readable paths are still decided by the rules.
. "$(dirname "$0")/lib.sh"
guest_setup

guest_run f --fail-closed "$POL/hostile.vsp" -- \
	'vsp_hostile null' 'vsp_hostile unmapped' 'vsp_hostile edge' \
	'vsp_open /etc/hostname /etc/shadow'
line() { grep "^VSP hostile $1 " "$T/f.log" | tr -d '\r'; }

ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "the guest ran to its end" has f.log VSP-DONE
echo "# $(line null) / $(line unmapped) / $(line edge)"
ok "NULL pointer: denied with EPERM before the kernel looks" eq "$(line null)" "VSP hostile null err EPERM 1"
ok "unmapped pointer: denied with EPERM" eq "$(line unmapped)" "VSP hostile unmapped err EPERM 1"
ok "path cut by an unmapped page: denied with EPERM" eq "$(line edge)" "VSP hostile edge err EPERM 1"
ok "a readable path is still allowed" has f.log "VSP open /etc/hostname ok"
ok "the shadow file is still denied by its rule" has f.log "VSP open /etc/shadow err EACCES 13"
failed=$(grep -c '"failed":true' "$T/f.audit")
ok "three failed decisions audited ($failed)" eq "$failed" 3
ok "failed decisions name no rule" eq "$(grep '"failed":true' "$T/f.audit" | grep -vc '"rule":null')" 0
done_testing
