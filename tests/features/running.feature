Feature: Running a command
  cuprum runs one external program without a shell, keeps its output,
  enforces timeouts and never leaves a process behind, on asyncio and trio.

  Scenario: Running a command captures its output
    Given the command echo with arguments "hello" and "big world"
    When I run the command
    Then the run succeeds with exit code 0
    And stdout is "hello big world\n"
    And stderr is empty

  Scenario: Shell metacharacters are passed through untouched
    Given the command echo with arguments "$(id)" and "*;|"
    When I run the command
    Then the run succeeds with exit code 0
    And stdout is "$(id) *;|\n"

  Scenario: A failing command is reported when checked
    Given a Python child that writes "oops" to stderr and exits with 3
    When I run the command with check
    Then CommandFailed is raised for exit code 3
    And the failure's stderr is "oops"

  Scenario: A command that outlives its timeout is stopped
    Given a Python child that prints "partial" and then sleeps
    When I run the command with a timeout of 1.5 seconds
    Then TimeoutExpired is raised after 1.5 seconds
    And the partial stdout is "partial\n"
    And no process is left in the child's process group

  Scenario: A child that ignores SIGTERM is killed after the grace period
    Given a Python child that ignores SIGTERM and sleeps
    When I run the command with a timeout of 1 seconds and a cancel grace of 0.2 seconds
    Then TimeoutExpired is raised after 1 seconds
    And the child was killed by signal 9

  Scenario: Cancelling a run ends the child and its background grandchild
    Given a shell that starts a background sleep and waits for it
    When I cancel the run once the shell has started
    Then the cancellation reaches the caller
    And neither the shell nor its grandchild is alive

  Scenario: A grandchild holding stdout open does not hang the run
    Given a shell that leaves a background sleep holding its stdout
    When I run the command with a cancel grace of 0.2 seconds
    Then the run succeeds with exit code 0
    And stdout is "done\n"
    And the run took less than 5 seconds
    And no process is left in the child's process group
