#!/usr/bin/env bats
# hw_virt.bats: what only a host with hardware virtualization shows. On
# kvm_pvm these SKIP with the reason; tests/run runs them again inside the
# emulated AMD-V and VT-x lab hosts (tests/lib/labhost.sh), where they
# must pass.

load helpers

PVM_REASON="kvm_pvm: no VT-x/AMD-V exposed here; runs in the emulated lab hosts (tests/lib/labhost.sh)"

@test "hardware virtualization: hvpatch lab probe says this host is eligible (VT-x/AMD-V, EPT/NPT, read-only memslots)" {
    require_kvm
    [ "$(kvm_flavour)" != kvm_pvm ] || skip "$PVM_REASON"
    run "$HVPATCH" lab probe --json
    echo "$output"
    [ "$status" -eq 0 ]
    host=$(jq -c '.hosts[0]' <<<"$output")
    [ "$(jq -r .eligible <<<"$host")" = true ]
    [ "$(jq -r .vtx_amdv <<<"$host")" = true ]
    [ "$(jq -r .ept_npt <<<"$host")" = true ]
    [ "$(jq -r .readonly_memslots <<<"$host")" = true ]
    [ "$(jq -r .kvm_module <<<"$host")" = "$(kvm_flavour)" ]
    [ "$(jq -r '.reasons | length' <<<"$host")" -eq 0 ]
    case $(kvm_flavour) in
    kvm_amd) want="AMD +AMD-V +NPT" ;;
    kvm_intel) want="Intel +VT-x +EPT" ;;
    *) false ;;
    esac
    run "$HVPATCH" lab probe
    echo "$output"
    [ "$status" -eq 0 ]
    [[ ${lines[1]} =~ $want\ +yes\ +yes\ .*\ yes$ ]]
}
