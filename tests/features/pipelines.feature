Feature: Pipelines
  A user joins commands with | and runs them as one unit, on asyncio and
  trio, with the stream backend chosen by CUPRUM_STREAM_BACKEND: the Rust
  engine or the pure Python one. Whatever the choice, the output is the same,
  failures are reported by stage, and nothing is left behind.

  Scenario Outline: A pipeline gives the right output whatever the backend setting
    Given CUPRUM_STREAM_BACKEND is <setting>
    And a file of 4 MiB of random bytes
    When I run the pipeline "cat {file} | cat | cat | sha256sum"
    Then the pipeline succeeds
    And the output is the sha256 digest of the file
    And the run used the <engine> stream backend

    # "auto": Rust when the extension is built, Python otherwise.
    Examples:
      | setting | engine |
      | python  | python |
      | rust    | rust   |
      | unset   | auto   |

  Scenario: Asking for the Rust backend without the extension is a clear error
    Given the Rust extension is not installed
    And CUPRUM_STREAM_BACKEND is rust
    When I try to run the pipeline "echo hi | cat"
    Then StreamBackendUnavailable is raised, saying how to build the extension
    And no process was started

  Scenario Outline: A stage killed by SIGPIPE because the next one stopped reading is no failure
    Given CUPRUM_STREAM_BACKEND is <setting>
    When I run the pipeline "yes | head -n 1"
    Then the pipeline succeeds
    And the output is "y\n"
    And stage 0 exited with code -13
    And no stage is reported as the failure

    Examples:
      | setting |
      | python  |
      | rust    |

  Scenario Outline: A failing stage is reported with its index
    Given CUPRUM_STREAM_BACKEND is <setting>
    When I run the pipeline "echo x | sh -c 'exit 3' | cat"
    Then the pipeline fails
    And the failure is stage 1, which exited with code 3
    And running it with check raises CommandFailed carrying the pipeline's result

    Examples:
      | setting |
      | python  |
      | rust    |

  Scenario Outline: Cancelling a running pipeline leaves nothing behind
    Given CUPRUM_STREAM_BACKEND is <setting>
    When I cancel the pipeline "cat /dev/zero | cat | wc -c" after 0.5 seconds
    Then the cancellation returned within 3 seconds
    And no process or descriptor was left behind

    Examples:
      | setting |
      | python  |
      | rust    |
